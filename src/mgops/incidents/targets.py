"""Response and resolution targets as instants.

The policy writes targets as ``15m``, ``4h``, ``2d``, ``next-business-day`` or
``next-sprint``. Durations are added to the declaration instant. "Next business
day" is the close of business on the first business day after the day the
incident was declared, in the policy's business-hours zone. "Next sprint" is the
end of the sprint after the one in progress, sprints running back to back from
the policy's anchor date (midnight in the same zone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from mgops.policy.schema import WEEKDAYS, Policy

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def due_at(target: str, start: datetime, policy: Policy) -> datetime:
    if target == "next-business-day":
        return _next_business_day_close(start, policy)
    if target == "next-sprint":
        return _next_sprint_end(start, policy)
    amount, unit = int(target[:-1]), target[-1]
    return start + timedelta(**{_UNITS[unit]: amount})


def is_business_hours(at: datetime, policy: Policy) -> bool:
    hours = policy.business_hours
    local = at.astimezone(ZoneInfo(hours.timezone))
    if WEEKDAYS[local.weekday()] not in hours.days:
        return False
    return hours.start <= local.time() < hours.end


def _next_business_day_close(start: datetime, policy: Policy) -> datetime:
    hours = policy.business_hours
    zone = ZoneInfo(hours.timezone)
    day = start.astimezone(zone).date()
    for _ in range(14):
        day += timedelta(days=1)
        if WEEKDAYS[day.weekday()] in hours.days:
            return datetime.combine(day, hours.end, zone).astimezone(UTC)
    raise ValueError("the policy's business hours name no weekday")


def _next_sprint_end(start: datetime, policy: Policy) -> datetime:
    zone = ZoneInfo(policy.business_hours.timezone)
    anchor = datetime.combine(policy.sprint.anchor, datetime.min.time(), zone)
    length = timedelta(days=policy.sprint.days)
    current = (start - anchor) // length
    return (anchor + length * (current + 2)).astimezone(UTC)
