"""Reading the audit back in runbook tests."""

from __future__ import annotations

from sqlalchemy import select

from mgops.store.db import Store
from mgops.store.models import Action, TimelineEntry


def actions(store: Store) -> list[Action]:
    """Every audited action, oldest first."""
    with store.session() as session:
        return list(session.scalars(select(Action).order_by(Action.id)))


def timeline(store: Store, incident_id: int) -> list[TimelineEntry]:
    with store.session() as session:
        query = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
        return list(session.scalars(query.order_by(TimelineEntry.id)))
