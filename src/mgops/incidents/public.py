"""The public status page: what customers may see, and nothing else.

An incident is public when its severity's ``status_page`` rule says so: ``always``
(P1, P2), ``if-customer-facing`` (P3 when it is marked customer-facing), ``never``
(P4). A public incident shows its title, grade, affected services, times and its
*public* status updates. Owners, impact notes, timeline, channel, internal updates
and root cause never leave the server through this module.

A service's state is the worst public, unresolved incident naming it: a P1 makes it
``major-outage``, a P2 ``partial-outage``, anything else ``degraded``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from mgops.policy.schema import Policy, StatusPageRule
from mgops.store.models import Incident

ServiceState = Literal["operational", "degraded", "partial-outage", "major-outage"]
HISTORY_DAYS = 14
_STATE_BY_SEVERITY: dict[str, ServiceState] = {
    "P1": "major-outage",
    "P2": "partial-outage",
}
_RANK: dict[ServiceState, int] = {
    "operational": 0,
    "degraded": 1,
    "partial-outage": 2,
    "major-outage": 3,
}


class PublicUpdate(BaseModel):
    posted_at: datetime
    state: str
    what_we_know: str
    what_we_are_doing: str


class PublicIncident(BaseModel):
    id: int
    title: str
    severity_label: str
    services: list[str]
    started_at: datetime
    resolved_at: datetime | None
    state: str
    updates: list[PublicUpdate]


class PublicService(BaseModel):
    name: str
    display_name: str
    state: ServiceState


class PublicStatus(BaseModel):
    organisation: str
    generated_at: datetime
    overall: ServiceState
    services: list[PublicService]
    active: list[PublicIncident]
    history: list[PublicIncident]


def is_public(incident: Incident, policy: Policy) -> bool:
    rule = policy.severity(incident.severity).status_page
    if rule is StatusPageRule.ALWAYS:
        return True
    return rule is StatusPageRule.IF_CUSTOMER_FACING and incident.customer_facing


def public_status(session: Session, policy: Policy, *, now: datetime) -> PublicStatus:
    """Services, active public incidents and the last two weeks' resolved ones."""
    since = now - timedelta(days=HISTORY_DAYS)
    rows = session.scalars(
        select(Incident)
        .options(selectinload(Incident.updates))
        .where(or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since))
        .order_by(Incident.started_at.desc(), Incident.id.desc())
    )
    shown = [r for r in rows if is_public(r, policy)]
    active = [r for r in shown if r.resolved_at is None]
    services = [
        PublicService(
            name=s.name,
            display_name=s.display_name,
            state=_service_state(s.name, active),
        )
        for s in policy.services
    ]
    overall = max((s.state for s in services), key=_RANK.__getitem__)
    if active and overall == "operational":
        overall = "degraded"
    return PublicStatus(
        organisation=policy.organisation,
        generated_at=now,
        overall=overall,
        services=services,
        active=[_public_incident(r, policy) for r in active],
        history=[_public_incident(r, policy) for r in shown if r.resolved_at],
    )


def _service_state(name: str, active: list[Incident]) -> ServiceState:
    states = [
        _STATE_BY_SEVERITY.get(i.severity, "degraded")
        for i in active
        if name in i.services
    ]
    return max(states, key=_RANK.__getitem__, default="operational")


def _public_incident(incident: Incident, policy: Policy) -> PublicIncident:
    names = {s.name: s.display_name for s in policy.services}
    updates = [u for u in incident.updates if u.public]
    if incident.resolved_at is not None:
        state = "Resolved"
    else:
        state = updates[-1].state if updates else "Investigating"
    return PublicIncident(
        id=incident.id,
        title=incident.title,
        severity_label=policy.severity(incident.severity).label,
        services=[names.get(s, s) for s in incident.services],
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        state=state,
        updates=[
            PublicUpdate(
                posted_at=u.posted_at,
                state=u.state,
                what_we_know=u.what_we_know,
                what_we_are_doing=u.what_we_are_doing,
            )
            for u in reversed(updates)
        ],
    )
