"""The runbook's investigations (section 5.2) as named queries.

Where the runbook's own query would miss, the saved query says why:
``trace="<traceId>"`` compares the whole LogEntry ``trace`` field, which holds
``projects/<project>/traces/<id>``, so a bare id never matches it; ``trace ID``
matches the full name, the id as a suffix, or ``jsonPayload.traceId``.
"""

from __future__ import annotations

import json


def _literal(value: str) -> str:
    return json.dumps(value)  # a double-quoted LQL string with escapes


def errors_by_path() -> str:
    return "severity>=ERROR | groupBy jsonPayload.path | count"


def errors_by_type() -> str:
    return "severity>=ERROR | groupBy jsonPayload.error | count"


def errors_by_user() -> str:
    return "severity>=ERROR | groupBy jsonPayload.userId | count"


def slow(ms: int = 1000) -> str:
    return f"jsonPayload.latencyMs>{int(ms)} | orderBy jsonPayload.latencyMs desc"


def user(user_id: str) -> str:
    return f"jsonPayload.userId={_literal(user_id)}"


def request(request_id: str) -> str:
    return f"jsonPayload.requestId={_literal(request_id)}"


def trace(trace_id: str) -> str:
    value = _literal(trace_id)
    if "/traces/" in trace_id:
        return f"trace={value}"
    suffix = _literal("/traces/" + trace_id)
    return f"trace={value} OR trace:{suffix} OR jsonPayload.traceId={value}"


def downstream_errors() -> str:
    return 'jsonPayload.downstream="true" AND severity>=ERROR'


def slow_db(ms: int = 100) -> str:
    return f"jsonPayload.dbLatencyMs>{int(ms)} | orderBy jsonPayload.dbLatencyMs desc"


def slow_external(ms: int = 500) -> str:
    return (
        f"jsonPayload.externalApiMs>{int(ms)} | orderBy jsonPayload.externalApiMs desc"
    )
