"""Notification channels and the outbox the worker delivers from."""
