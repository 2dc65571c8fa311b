"""Registry benchmark: this catalog's server against `mlflow server`, over HTTP."""
