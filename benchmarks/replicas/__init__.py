"""Scale-out benchmark: replicas on one PostgreSQL database and one S3-compatible bucket."""
