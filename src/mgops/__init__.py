"""mgops — the Media Gateway operations runbook as software."""

__version__ = "0.1.0"
