"""The workload rewriter: finds and fixes code, notebooks, jobs and serving configs that still
use a stage-based MLflow registry, using the migration's name and alias map."""
