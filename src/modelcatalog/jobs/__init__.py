"""Deployment jobs, model event triggers and notifications."""
