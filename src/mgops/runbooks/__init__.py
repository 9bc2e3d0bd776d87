"""Runbooks as audited commands: Kubernetes services, PostgreSQL, Redis, Qdrant."""
