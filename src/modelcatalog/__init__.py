"""modelcatalog: a governed model catalog with Unity Catalog semantics, and the toolkit that
moves stage-based MLflow registries onto it."""

__version__ = "0.1.0"
