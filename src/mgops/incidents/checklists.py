"""Checklists: the policy's items for a phase, and which of them are ticked.

An item marked ``when: customer-facing`` is required only on a customer-facing
incident; it can still be ticked on any incident.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mgops.incidents.views import ChecklistItemView, ChecklistView
from mgops.policy.schema import Policy
from mgops.store.models import ChecklistTick, Incident


def checklist_view(
    policy: Policy, incident: Incident, session: Session, phase: str | None = None
) -> ChecklistView:
    name = phase or incident.phase
    ticks = {
        t.item_id: t
        for t in session.scalars(
            select(ChecklistTick).where(
                ChecklistTick.incident_id == incident.id, ChecklistTick.phase == name
            )
        )
    }
    items = []
    for item in policy.phase(name).checklist:
        tick = ticks.get(item.id)
        items.append(
            ChecklistItemView(
                id=item.id,
                text=item.text,
                required=item.when == "always" or incident.customer_facing,
                ticked=tick is not None,
                ticked_by=tick.ticked_by if tick else None,
                ticked_at=tick.ticked_at if tick else None,
            )
        )
    return ChecklistView(phase=name, items=items)
