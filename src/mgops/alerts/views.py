"""Alert groups and alerts as the API and CLI show them, and silencing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mgops.errors import InputError, NotFound
from mgops.store.models import AlertGroup


class AlertView(BaseModel):
    id: int
    fingerprint: str
    status: str
    summary: str
    labels: dict[str, Any]
    # Alertmanager annotations; for Events v2: custom_details, images, links, client.
    annotations: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    last_seen: datetime


class AlertGroupView(BaseModel):
    id: int
    source: str
    status: str
    title: str
    severity: str
    group_key: str
    labels: dict[str, Any]
    incident_id: int | None
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    silenced_until: datetime | None
    truncated_seen: int
    deliveries: int
    alerts: list[AlertView]


def group_view(group: AlertGroup) -> AlertGroupView:
    return AlertGroupView(
        id=group.id,
        source=group.source,
        status=group.status,
        title=group.title,
        severity=group.severity,
        group_key=group.group_key,
        labels=dict(group.labels),
        incident_id=group.incident_id,
        first_seen=group.first_seen,
        last_seen=group.last_seen,
        resolved_at=group.resolved_at,
        silenced_until=group.silenced_until,
        truncated_seen=group.truncated_seen,
        deliveries=group.deliveries,
        alerts=[
            AlertView(
                id=a.id,
                fingerprint=a.fingerprint,
                status=a.status,
                summary=a.summary,
                labels=dict(a.labels),
                annotations=dict(a.annotations),
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                last_seen=a.last_seen,
            )
            for a in group.alerts
        ],
    )


def list_groups(
    session: Session, *, open_only: bool = False, limit: int = 200
) -> list[AlertGroupView]:
    query = (
        select(AlertGroup)
        .options(selectinload(AlertGroup.alerts))
        .order_by(AlertGroup.id.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(AlertGroup.resolved_at.is_(None))
    return [group_view(g) for g in session.scalars(query)]


def get_group(session: Session, group_id: int) -> AlertGroup:
    group = session.get(AlertGroup, group_id)
    if group is None:
        raise NotFound(f"Alert group {group_id} does not exist.")
    return group


def silence_group(
    session: Session, group_id: int, *, minutes: int, now: datetime
) -> AlertGroupView:
    """Silence a group's notifications for ``minutes`` (0 lifts the silence)."""
    if not 0 <= minutes <= 7 * 24 * 60:
        raise InputError("A silence lasts between 0 minutes and 7 days.")
    group = get_group(session, group_id)
    group.silenced_until = now + timedelta(minutes=minutes) if minutes else None
    return group_view(group)
