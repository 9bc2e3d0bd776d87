"""SLA clocks: response due, resolution due, next status update due.

Response and resolution run from the declaration under the current severity's
targets. The response clock stops when someone takes the incident (an owner, a
phase change or an acknowledged page); resolution stops at RESOLVE → REVIEW.
The status-update clock runs only for severities with a cadence (P1 every 15
minutes, P2 every 30) and only while the incident is unresolved; it restarts at
each status update, from the update's own "next update" time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mgops.clock import format_duration
from mgops.incidents.targets import due_at
from mgops.incidents.views import SlaClock
from mgops.policy.schema import Policy
from mgops.store.models import Incident


def sla_clocks(incident: Incident, policy: Policy, now: datetime) -> list[SlaClock]:
    severity = policy.severity(incident.severity)
    return [
        _clock(
            "response",
            due_at(severity.response_target, incident.declared_at, policy),
            incident.responded_at,
            now,
        ),
        _clock(
            "resolution",
            due_at(severity.resolution_target, incident.declared_at, policy),
            incident.resolved_at,
            now,
        ),
        _update_clock(incident, policy, now),
    ]


def next_update_due(incident: Incident, policy: Policy) -> datetime | None:
    minutes = policy.severity(incident.severity).status_update_minutes
    if minutes is None or incident.resolved_at is not None:
        return None
    cadence = timedelta(minutes=minutes)
    if incident.last_update_at is None:
        return incident.declared_at + cadence
    latest = max(incident.updates, key=lambda u: u.posted_at, default=None)
    if latest is not None and latest.next_update_at is not None:
        return min(latest.next_update_at, incident.last_update_at + cadence)
    return incident.last_update_at + cadence


def _update_clock(incident: Incident, policy: Policy, now: datetime) -> SlaClock:
    due = next_update_due(incident, policy)
    if due is None:
        why = "resolved" if incident.resolved_at else "no update cadence"
        return SlaClock(
            name="next-update",
            due_at=None,
            state="not-applicable",
            text=f"Next update: not needed ({why})",
        )
    return _clock("next-update", due, None, now)


def _clock(
    name: str, due: datetime, met_at: datetime | None, now: datetime
) -> SlaClock:
    label = {
        "response": "Response",
        "resolution": "Resolution",
        "next-update": "Next update",
    }[name]
    if met_at is not None:
        late = met_at > due
        state = "met-late" if late else "met"
        gap = format_duration(met_at - due)
        text = f"{label}: met {gap} {'late' if late else 'early'}"
        return SlaClock(
            name=name,
            due_at=due,
            met_at=met_at,
            state=state,
            text=text,
        )
    left = int((due - now).total_seconds())
    if left >= 0:
        text = f"{label}: due in {format_duration(due - now)}"
        state = "pending"
    else:
        text = f"{label}: overdue by {format_duration(now - due)}"
        state = "overdue"
    return SlaClock(
        name=name,
        due_at=due,
        state=state,
        seconds_left=left,
        text=text,
    )
