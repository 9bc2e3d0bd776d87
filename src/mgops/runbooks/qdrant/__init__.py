"""Qdrant runbook (section 2.3): collections, optimizers, snapshots."""
