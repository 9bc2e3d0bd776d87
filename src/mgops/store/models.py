"""Tables of the incident desk, alert intake, access and the action audit.

On-call tables (rotations, pages, notifications, timers) live in
``mgops.oncall.models`` and share this ``Base``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mgops.store.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(2), index=True)
    phase: Mapped[str] = mapped_column(String(10), index=True)
    impact: Mapped[str] = mapped_column(Text, default="")
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    customer_facing: Mapped[bool] = mapped_column(Boolean, default=False)
    users_affected_pct: Mapped[float | None] = mapped_column(Float)
    owner: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(40), default="manual")
    declared_by: Mapped[str] = mapped_column(String(100))
    declared_at: Mapped[datetime]
    started_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    phase_entered_at: Mapped[datetime]
    last_update_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(80))
    root_cause: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    postmortem_at: Mapped[datetime | None]

    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="incident", order_by="TimelineEntry.id"
    )
    ticks: Mapped[list[ChecklistTick]] = relationship(back_populates="incident")
    updates: Mapped[list[StatusUpdate]] = relationship(
        back_populates="incident", order_by="StatusUpdate.id"
    )


class TimelineEntry(Base):
    """One append-only line of an incident's history."""

    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="timeline")


class ChecklistTick(Base):
    __tablename__ = "checklist_ticks"
    __table_args__ = (UniqueConstraint("incident_id", "phase", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    phase: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[str] = mapped_column(String(80))
    ticked_by: Mapped[str] = mapped_column(String(100))
    ticked_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="ticks")


class StatusUpdate(Base):
    __tablename__ = "status_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    posted_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    what_we_know: Mapped[str] = mapped_column(Text)
    what_we_are_doing: Mapped[str] = mapped_column(Text)
    next_update_at: Mapped[datetime | None]
    public: Mapped[bool] = mapped_column(Boolean, default=True)

    incident: Mapped[Incident] = relationship(back_populates="updates")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Integration(Base):
    """An intake endpoint's identity: its kind and the hash of its secret key."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AlertGroup(Base):
    """Alerts under one Alertmanager groupKey or one Events v2 dedup key.

    Only one unresolved group may exist per integration and key (a partial unique
    index), so concurrent deliveries of the same event meet at the database.
    """

    __tablename__ = "alert_groups"
    __table_args__ = (
        Index(
            "uq_alert_groups_open_key",
            "integration_id",
            "key_hash",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    key_hash: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(1024))
    severity: Mapped[str] = mapped_column(String(2))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    silenced_until: Mapped[datetime | None]
    truncated_seen: Mapped[int] = mapped_column(Integer, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)

    alerts: Mapped[list[Alert]] = relationship(
        back_populates="group", order_by="Alert.id"
    )


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("group_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(String(1024))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]

    group: Mapped[AlertGroup] = relationship(back_populates="alerts")


class Action(Base):
    """The audit of a runbook action: written before it starts and when it ends."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id"), index=True
    )
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
