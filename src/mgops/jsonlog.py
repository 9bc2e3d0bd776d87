"""mgops's own logs: JSON lines with the runbook's field names.

Every line carries ``timestamp`` (RFC 3339, UTC) and ``severity`` (Cloud Logging
names), then the message and whatever ``extra=`` supplied: ``requestId``,
``latencyMs``, ``status``, ``method``, ``path``, ``error``… so that
``mgops logs query`` can search mgops's own output.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if (
                key not in _STANDARD
                and not key.startswith("_")
                and key != "color_message"
            ):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = entry.get("error") or str(record.exc_info[1])
            entry["stack"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Send every mgops and uvicorn log line to ``stream`` as JSON."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The access log is replaced by mgops's own request line (web/app.py).
    logging.getLogger("uvicorn.access").disabled = True
