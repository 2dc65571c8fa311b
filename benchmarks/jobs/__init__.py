"""Deployment-job benchmark: a burst of READY versions through the job engine."""
