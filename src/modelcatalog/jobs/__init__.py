"""The runtime on top of the service: the engine, task workers (embedded or Celery), deliveries
and trigger batches."""
