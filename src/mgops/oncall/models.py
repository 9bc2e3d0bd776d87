"""Tables of schedules, membership history, overrides, people and hand-offs.

They share ``mgops.store.models.Base``; migration ``0002_oncall_schedules``
creates them. Wall-clock settings (a rotation's start, its hand-off time) are
kept as the text the policy wrote, because they are not instants: they only
become instants in the schedule's zone, through ``rotation.resolve_local``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mgops.store.models import Base


class Schedule(Base):
    """A rotation: its hand-off rule, restrictions and hand-off checklist."""

    __tablename__ = "oncall_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    length: Mapped[str] = mapped_column(String(10))
    custom_hours: Mapped[int | None] = mapped_column(Integer)
    start_local: Mapped[str] = mapped_column(String(32))
    handoff_weekday: Mapped[str] = mapped_column(String(10))
    handoff_time: Mapped[str] = mapped_column(String(8))
    secondary: Mapped[str] = mapped_column(String(20))
    active_days: Mapped[list[str] | None] = mapped_column(JSON)
    active_start: Mapped[str | None] = mapped_column(String(8))
    active_end: Mapped[str | None] = mapped_column(String(8))
    procedure: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requirements: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(20), default="policy")
    created_at: Mapped[datetime]

    epochs: Mapped[list[RotationEpoch]] = relationship(
        back_populates="schedule", order_by="RotationEpoch.seq"
    )


class RotationEpoch(Base):
    """One membership change, in order: the rotation as it stands from then on."""

    __tablename__ = "oncall_epochs"
    __table_args__ = (UniqueConstraint("schedule_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_schedules.id"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime]
    members: Mapped[list[str]] = mapped_column(JSON)
    first_shift: Mapped[int] = mapped_column(Integer)
    first_position: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(20))
    person: Mapped[str | None] = mapped_column(String(100))
    takes_over: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")

    schedule: Mapped[Schedule] = relationship(back_populates="epochs")


class ScheduleOverride(Base):
    """``person`` covers ``covers`` (or is on call, when None) in a window."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_schedules.id"), index=True
    )
    person: Mapped[str] = mapped_column(String(100))
    covers: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(100))


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20), default="cli")
    created_at: Mapped[datetime]

    contacts: Mapped[list[ContactMethod]] = relationship(
        back_populates="person", order_by="ContactMethod.id"
    )
    roles: Mapped[list[PersonRole]] = relationship(
        back_populates="person", order_by="PersonRole.id"
    )


class ContactMethod(Base):
    __tablename__ = "person_contacts"
    __table_args__ = (UniqueConstraint("person_id", "kind", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))

    person: Mapped[Person] = relationship(back_populates="contacts")


class PersonRole(Base):
    """An escalation role; ``domain`` is "" for roles without one (vp, cto)."""

    __tablename__ = "person_roles"
    __table_args__ = (UniqueConstraint("person_id", "role", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(40), index=True)
    domain: Mapped[str] = mapped_column(String(20), default="")

    person: Mapped[Person] = relationship(back_populates="roles")


class HandoffRecord(Base):
    """A hand-off that somebody looked at: its acknowledgement and ticks."""

    __tablename__ = "oncall_handoffs"
    __table_args__ = (UniqueConstraint("schedule_id", "shift", "incoming"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_schedules.id"), index=True
    )
    shift: Mapped[int] = mapped_column(Integer)
    handoff_at: Mapped[datetime]
    outgoing: Mapped[str | None] = mapped_column(String(100))
    incoming: Mapped[str] = mapped_column(String(100))
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    ticks: Mapped[list[HandoffTick]] = relationship(
        back_populates="handoff", order_by="HandoffTick.id"
    )


class HandoffTick(Base):
    __tablename__ = "oncall_handoff_ticks"
    __table_args__ = (UniqueConstraint("handoff_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("oncall_handoffs.id"), index=True
    )
    item_id: Mapped[str] = mapped_column(String(80))
    ticked_by: Mapped[str] = mapped_column(String(100))
    ticked_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)

    handoff: Mapped[HandoffRecord] = relationship(back_populates="ticks")
