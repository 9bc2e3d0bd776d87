"""Runbook 1.3, feature flags: wait until a flag's new value has propagated.

The runbook reads ``<flags_url> | jq .<flag>`` once. Behind a load balancer one
answer says little, so mgops polls the platform's internal flags endpoint until
``consecutive`` answers in a row carry the expected value, or the timeout passes.
The expected value is read as JSON when it parses (``true``, ``42``, ``"on"``) and
as a plain string otherwise; a flag may be a top-level key or a dotted path.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from mgops.clock import Clock
from mgops.errors import ActionTimeout, TargetError

_MISSING = object()


def expected_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def flag_value(document: Any, flag: str) -> Any:
    if isinstance(document, dict) and flag in document:
        return document[flag]
    current = document
    for part in flag.split("."):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def verify_flag(
    url: str,
    flag: str,
    expected: Any,
    *,
    http: httpx.Client,
    clock: Clock,
    timeout: float = 120.0,
    interval: float = 2.0,
    consecutive: int = 3,
) -> dict[str, Any]:
    started = clock.now()
    streak, reads, last = 0, 0, _MISSING
    while True:
        last = _read(http, url, flag)
        reads += 1
        streak = streak + 1 if last == expected else 0
        elapsed = (clock.now() - started).total_seconds()
        if streak >= consecutive:
            return {
                "flag": flag,
                "expected": expected,
                "propagated": True,
                "reads": reads,
                "seconds": round(elapsed, 1),
            }
        if elapsed >= timeout:
            seen = "missing" if last is _MISSING else json.dumps(last)
            raise ActionTimeout(
                f"Flag {flag} did not read {json.dumps(expected)} {consecutive} times "
                f"in a row within {timeout:.0f}s (last read: {seen}, {reads} reads).",
                detail={"flag": flag, "last": None if last is _MISSING else last},
            )
        clock.sleep(interval)


def _read(http: httpx.Client, url: str, flag: str) -> Any:
    try:
        response = http.get(url)
    except httpx.HTTPError:
        return _MISSING
    if not response.is_success:
        return _MISSING
    try:
        return flag_value(response.json(), flag)
    except ValueError:
        raise TargetError(f"The flags endpoint {url} did not answer JSON.") from None
