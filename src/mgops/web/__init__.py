"""The HTTP faces: REST API, intake endpoints, metrics (and later the console)."""
