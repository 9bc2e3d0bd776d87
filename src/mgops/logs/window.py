"""``--since`` / ``--until``: a duration back from now (``90s``, ``15m``, ``1h``,
``2d``) or an RFC 3339 instant. The filter text itself stays pure LQL
(mgops extension 6)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from mgops.errors import InputError
from mgops.logs.compile import parse_instant

_DURATION = re.compile(r"(\d+)\s*(s|m|h|d|w)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_bound(text: str | None, *, now: datetime, flag: str) -> datetime | None:
    if not text:
        return None
    match = _DURATION.fullmatch(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    moment = parse_instant(text)
    if moment is None:
        raise InputError(
            f"{flag} {text!r} is neither a duration (30m, 1h, 2d) nor an RFC 3339 "
            "time (2024-12-06T08:00:00Z)."
        )
    return moment
