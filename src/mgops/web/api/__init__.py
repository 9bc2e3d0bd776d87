"""REST routers under ``/api/v1`` and the intake endpoints."""
