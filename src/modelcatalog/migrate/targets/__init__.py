"""Where a migration writes: the `Target` protocol, its implementations (this catalog over HTTP,
a Unity Catalog through MLflow's `databricks-uc` client) and `open_target`, which chooses one."""
