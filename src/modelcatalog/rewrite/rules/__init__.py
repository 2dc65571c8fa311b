"""One module per finding code. Each declares its rule and registers its checks on import."""
