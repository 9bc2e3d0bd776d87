"""A status update rendered before it is posted, for the console's preview.

Nothing is stored: the update is a transient row handed to the same template the
desk uses when the update is posted, with the next update at the time posting
would promise (the requested minutes, else the severity's cadence).
"""

from __future__ import annotations

from datetime import timedelta

from mgops.incidents.comms import render_comms
from mgops.incidents.lifecycle import DeskEnv, get_incident
from mgops.incidents.views import CommsView
from mgops.policy.schema import STATUS_STATES
from mgops.store.models import StatusUpdate


def preview_status_update(
    env: DeskEnv,
    incident_id: int,
    *,
    state: str,
    what_we_know: str,
    what_we_are_doing: str,
    next_update_in_minutes: int | None = None,
) -> CommsView:
    incident = get_incident(env, incident_id)
    now = env.clock.now()
    canonical = {s.lower(): s for s in STATUS_STATES}.get(state.strip().lower())
    cadence = env.policy.severity(incident.severity).status_update_minutes
    minutes = next_update_in_minutes or cadence
    resolved = canonical == "Resolved" or incident.resolved_at is not None
    draft = StatusUpdate(
        incident_id=incident.id,
        posted_at=now,
        author=env.actor,
        state=canonical or state.strip() or STATUS_STATES[0],
        what_we_know=what_we_know.strip() or "…",
        what_we_are_doing=what_we_are_doing.strip() or "…",
        next_update_at=None
        if resolved or not minutes
        else now + timedelta(minutes=minutes),
        public=True,
    )
    return render_comms(incident, env.policy, "status-update", update=draft)
