"""Migration of a stage-based MLflow registry onto the catalog: source, plan, run, verify."""
