"""Status updates in the runbook's states, on the severity's cadence."""

from __future__ import annotations

from datetime import datetime, timedelta

from mgops.errors import Conflict, InputError
from mgops.incidents.lifecycle import DeskEnv, get_incident, record, stamp
from mgops.policy.schema import STATUS_STATES
from mgops.store.models import StatusUpdate


def post_status_update(
    env: DeskEnv,
    incident_id: int,
    *,
    state: str,
    what_we_know: str,
    what_we_are_doing: str,
    next_update_at: datetime | None = None,
    public: bool = True,
) -> StatusUpdate:
    incident = get_incident(env, incident_id)
    if incident.closed_at is not None:
        raise Conflict(f"Incident {incident_id} is closed; it takes no more updates.")
    canonical = {s.lower(): s for s in STATUS_STATES}.get(state.strip().lower())
    if canonical is None:
        raise InputError(f"Status {state!r} is not one of {', '.join(STATUS_STATES)}.")
    if not what_we_know.strip() or not what_we_are_doing.strip():
        raise InputError("A status update says what we know and what we're doing.")
    if canonical == "Resolved" and incident.phase not in ("RESOLVE", "REVIEW"):
        raise Conflict(
            f"Incident {incident_id} is in {incident.phase}; a Resolved update "
            "belongs to RESOLVE or later. Advance it first."
        )
    at = stamp(env, incident)
    cadence = env.policy.severity(incident.severity).status_update_minutes
    if canonical == "Resolved" or incident.resolved_at is not None:
        next_at = None
    elif next_update_at is not None:
        if next_update_at <= at:
            raise InputError("The next update must be in the future.")
        if cadence and next_update_at > at + timedelta(minutes=cadence):
            raise InputError(
                f"{incident.severity} needs an update at least every {cadence} "
                "minutes; choose an earlier next update."
            )
        next_at = next_update_at
    else:
        next_at = at + timedelta(minutes=cadence) if cadence else None
    update = StatusUpdate(
        incident_id=incident.id,
        posted_at=at,
        author=env.actor,
        state=canonical,
        what_we_know=what_we_know.strip(),
        what_we_are_doing=what_we_are_doing.strip(),
        next_update_at=next_at,
        public=public,
    )
    env.session.add(update)
    incident.last_update_at = at
    incident.updates.append(update)
    record(
        env,
        incident,
        "status-update",
        f"Status update ({canonical}{'' if public else ', internal'}): "
        f"{what_we_know.strip()}",
        at=at,
        state=canonical,
        public=public,
    )
    return update
