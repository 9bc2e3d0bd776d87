"""The hand-off (runbook 4.1): a summary for the incoming engineer, their
acknowledgement, and the hand-off checklist ticked like an incident's.

The summary of the hand-off that started the shift running at ``now`` holds the
past shift's incidents (declared within it), its pages, the incidents still
open and the overrides coming up until the end of the next shift. Pages come
from the paging module through the ``pages_in_shift`` seam; without one the
summary says that pages were not looked at, rather than claiming there were none.

The checklist is the rotation's ``handoff.procedure`` from the policy. Ticking
``acknowledge-receipt`` is the acknowledgement itself, so only the incoming
engineer can tick it, and acknowledging ticks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mgops.clock import as_utc
from mgops.errors import ActionRefused, Conflict, InputError, NotFound
from mgops.oncall import schedule as pure
from mgops.oncall.models import HandoffRecord, HandoffTick
from mgops.oncall.service import OverrideView, list_overrides, load_state, schedule_row
from mgops.policy import Policy
from mgops.store.models import Incident

ACK_ITEM = "acknowledge-receipt"

PagesInShift = Callable[[Session, str, datetime, datetime], list[dict[str, Any]]]
"""``(session, schedule, start, end) -> pages`` sent on that schedule in the shift."""


@dataclass(frozen=True)
class IncidentBrief:
    id: int
    title: str
    severity: str
    phase: str
    declared_at: datetime
    resolved_at: datetime | None
    owner: str | None


@dataclass(frozen=True)
class ChecklistLine:
    id: str
    text: str
    ticked_by: str | None = None
    ticked_at: datetime | None = None
    note: str | None = None


@dataclass(frozen=True)
class HandoffSummary:
    schedule: str
    shift: int
    handoff_at: datetime
    shift_end: datetime
    outgoing: str | None
    incoming: str | None
    previous_shift_start: datetime
    incidents: list[IncidentBrief]
    open_incidents: list[IncidentBrief]
    upcoming_overrides: list[OverrideView]
    pages: list[dict[str, Any]] | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    checklist: list[ChecklistLine] = field(default_factory=list)

    @property
    def checklist_done(self) -> bool:
        return all(line.ticked_at is not None for line in self.checklist)


def handoff_summary(
    session: Session,
    schedule: str | None,
    *,
    now: datetime,
    policy: Policy | None = None,
    pages_in_shift: PagesInShift | None = None,
) -> HandoffSummary:
    """What the incoming engineer reads at the hand-off of the running shift."""
    now = as_utc(now)
    state = load_state(session, schedule)
    handoff = pure.current_handoff(state, now)
    if handoff is None:
        first = state.rule.handoff(0).isoformat()
        raise NotFound(f"Schedule {state.name} has no hand-off yet; it starts {first}.")
    previous_start = state.rule.handoff(handoff.shift - 1)
    window = (previous_start, handoff.at)
    record = _find_record(session, state.name, handoff)
    return HandoffSummary(
        schedule=state.name,
        shift=handoff.shift,
        handoff_at=handoff.at,
        shift_end=handoff.shift_end,
        outgoing=handoff.outgoing,
        incoming=handoff.incoming,
        previous_shift_start=previous_start,
        incidents=_incidents_declared(session, *window),
        open_incidents=_open_incidents(session),
        upcoming_overrides=_upcoming(session, state, handoff, now),
        pages=pages_in_shift(session, state.name, *window) if pages_in_shift else None,
        acknowledged_by=record.acknowledged_by if record else None,
        acknowledged_at=record.acknowledged_at if record else None,
        checklist=_checklist(_procedure(state, policy), record),
    )


def acknowledge_handoff(
    session: Session,
    schedule: str | None,
    *,
    person: str,
    now: datetime,
    policy: Policy | None = None,
) -> HandoffSummary:
    """The incoming engineer acknowledges the summary; a repeat changes nothing."""
    now = as_utc(now)
    state = load_state(session, schedule)
    handoff = _running(state, now)
    if person != handoff.incoming:
        raise ActionRefused(
            f"Only the incoming engineer ({handoff.incoming}) acknowledges the "
            f"hand-off of {state.name}; you are {person}."
        )
    record = _record(session, state.name, handoff, now=now)
    if record.acknowledged_at is None:
        record.acknowledged_by = person
        record.acknowledged_at = now
        if any(i == ACK_ITEM for i, _ in _procedure(state, policy)):
            _add_tick(session, record, ACK_ITEM, person, now, None)
        session.flush()
    return handoff_summary(session, state.name, now=now, policy=policy)


def tick_handoff_item(
    session: Session,
    schedule: str | None,
    item_id: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    policy: Policy | None = None,
) -> HandoffSummary:
    """Tick one item of the running hand-off's checklist, recording who and when."""
    now = as_utc(now)
    state = load_state(session, schedule)
    procedure = _procedure(state, policy)
    ids = [i for i, _ in procedure]
    if item_id not in ids:
        raise InputError(
            f"The hand-off checklist of {state.name} has no item {item_id!r}; "
            f"items: {', '.join(ids)}."
        )
    if item_id == ACK_ITEM:
        return acknowledge_handoff(
            session, state.name, person=actor, now=now, policy=policy
        )
    record = _record(session, state.name, _running(state, now), now=now)
    if any(t.item_id == item_id for t in record.ticks):
        raise Conflict(f"{item_id} was ticked already.")
    _add_tick(session, record, item_id, actor, now, note)
    return handoff_summary(session, state.name, now=now, policy=policy)


def _running(state: pure.ScheduleState, now: datetime) -> pure.Handoff:
    handoff = pure.current_handoff(state, now)
    if handoff is None or handoff.incoming is None:
        raise NotFound(f"Schedule {state.name} has no hand-off yet.")
    return handoff


def _find_record(
    session: Session, name: str, handoff: pure.Handoff
) -> HandoffRecord | None:
    row = schedule_row(session, name)
    query = select(HandoffRecord).where(
        HandoffRecord.schedule_id == row.id,
        HandoffRecord.shift == handoff.shift,
        HandoffRecord.incoming == (handoff.incoming or ""),
    )
    return session.scalars(query).first()


def _record(
    session: Session, name: str, handoff: pure.Handoff, *, now: datetime
) -> HandoffRecord:
    record = _find_record(session, name, handoff)
    if record is not None:
        return record
    row = schedule_row(session, name)
    record = HandoffRecord(
        schedule_id=row.id,
        shift=handoff.shift,
        handoff_at=handoff.at,
        outgoing=handoff.outgoing,
        incoming=handoff.incoming or "",
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        # Another process made it between our read and our write.
        found = _find_record(session, name, handoff)
        if found is None:
            raise
        return found
    return record


def _add_tick(
    session: Session,
    record: HandoffRecord,
    item_id: str,
    actor: str,
    now: datetime,
    note: str | None,
) -> None:
    tick = HandoffTick(
        handoff_id=record.id, item_id=item_id, ticked_by=actor, ticked_at=now, note=note
    )
    try:
        with session.begin_nested():
            session.add(tick)
    except IntegrityError:
        raise Conflict(f"{item_id} was ticked already.") from None
    session.refresh(record)


def _procedure(
    state: pure.ScheduleState, policy: Policy | None
) -> list[tuple[str, str]]:
    """The policy's current checklist for this rotation, else the stored copy."""
    if policy is not None:
        for rotation in policy.rotations:
            if rotation.name == state.name:
                return [(i.id, i.text) for i in rotation.handoff.procedure]
    return list(state.procedure)


def _checklist(
    procedure: list[tuple[str, str]], record: HandoffRecord | None
) -> list[ChecklistLine]:
    ticks = {t.item_id: t for t in record.ticks} if record else {}
    lines = []
    for item_id, text in procedure:
        tick = ticks.get(item_id)
        lines.append(
            ChecklistLine(
                id=item_id,
                text=text,
                ticked_by=tick.ticked_by if tick else None,
                ticked_at=tick.ticked_at if tick else None,
                note=tick.note if tick else None,
            )
        )
    return lines


def _incidents_declared(
    session: Session, start: datetime, end: datetime
) -> list[IncidentBrief]:
    query = (
        select(Incident)
        .where(Incident.declared_at >= start, Incident.declared_at < end)
        .order_by(Incident.declared_at, Incident.id)
    )
    return [_brief(i) for i in session.scalars(query)]


def _open_incidents(session: Session) -> list[IncidentBrief]:
    query = (
        select(Incident)
        .where(Incident.resolved_at.is_(None))
        .order_by(Incident.severity, Incident.declared_at)
    )
    return [_brief(i) for i in session.scalars(query)]


def _brief(incident: Incident) -> IncidentBrief:
    return IncidentBrief(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        phase=incident.phase,
        declared_at=incident.declared_at,
        resolved_at=incident.resolved_at,
        owner=incident.owner,
    )


def _upcoming(
    session: Session, state: pure.ScheduleState, handoff: pure.Handoff, now: datetime
) -> list[OverrideView]:
    """Overrides not over yet that start before the end of the next shift."""
    horizon = state.rule.handoff(handoff.shift + 2)
    return [
        o for o in list_overrides(session, state.name, now=now) if o.starts_at < horizon
    ]
