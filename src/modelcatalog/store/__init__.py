"""Persistence: the catalog's tables, its database engine and its schema migrations."""
