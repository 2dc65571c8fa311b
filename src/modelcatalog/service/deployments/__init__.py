"""Deployment jobs: definitions, links to models, runs and their task graphs, approvals."""
