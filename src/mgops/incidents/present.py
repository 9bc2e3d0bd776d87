"""Store rows → views, with the SLA clocks worked out at ``now``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mgops.incidents.checklists import checklist_view
from mgops.incidents.clocks import sla_clocks
from mgops.incidents.views import (
    IncidentSummary,
    IncidentView,
    StatusUpdateView,
    TimelineEntryView,
)
from mgops.policy.schema import Policy
from mgops.store.models import Incident, StatusUpdate, TimelineEntry


def summary_view(incident: Incident, policy: Policy, now: datetime) -> IncidentSummary:
    return IncidentSummary(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        phase=incident.phase,
        owner=incident.owner,
        services=list(incident.services),
        customer_facing=incident.customer_facing,
        declared_at=incident.declared_at,
        resolved_at=incident.resolved_at,
        open=incident.resolved_at is None,
        clocks=sla_clocks(incident, policy, now),
    )


def update_view(update: StatusUpdate) -> StatusUpdateView:
    return StatusUpdateView(
        id=update.id,
        incident_id=update.incident_id,
        posted_at=update.posted_at,
        author=update.author,
        state=update.state,
        what_we_know=update.what_we_know,
        what_we_are_doing=update.what_we_are_doing,
        next_update_at=update.next_update_at,
        public=update.public,
    )


def timeline_view(entry: TimelineEntry) -> TimelineEntryView:
    return TimelineEntryView(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        kind=entry.kind,
        message=entry.message,
        data=dict(entry.data or {}),
    )


def incident_view(
    incident: Incident, policy: Policy, session: Session, now: datetime
) -> IncidentView:
    summary = summary_view(incident, policy, now)
    return IncidentView(
        **summary.model_dump(),
        impact=incident.impact,
        users_affected_pct=incident.users_affected_pct,
        source=incident.source,
        declared_by=incident.declared_by,
        started_at=incident.started_at,
        responded_at=incident.responded_at,
        closed_at=incident.closed_at,
        phase_entered_at=incident.phase_entered_at,
        channel=incident.channel,
        root_cause=incident.root_cause,
        resolution=incident.resolution,
        postmortem_at=incident.postmortem_at,
        checklist=checklist_view(policy, incident, session),
        updates=[update_view(u) for u in incident.updates],
        timeline=[timeline_view(e) for e in incident.timeline],
    )
