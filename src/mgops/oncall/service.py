"""Schedules in the store: seeding from the policy, membership, overrides, answers.

The questions the escalation engine asks take either a session (the state is
loaded from the store) or a ``ScheduleState`` already in hand::

    who_is_on_call(session, "primary", clock.now())      -> OnCall
    next_handoff(session, "primary", clock.now())        -> Handoff

The policy's ``rotations:`` and ``people:`` are copied into the store the first
time mgops opens it (``ensure_seeded``), so a fresh install answers at once;
from then on the store is the truth and membership changes are kept there as an
ordered history of epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mgops.clock import as_utc
from mgops.errors import Conflict, InputError, NotFound
from mgops.oncall import schedule as pure
from mgops.oncall.models import RotationEpoch, Schedule, ScheduleOverride
from mgops.oncall.overrides import Override, check_override
from mgops.oncall.people import require_people, seed_people
from mgops.oncall.rotation import (
    Epoch,
    RotationRule,
    Segment,
    initial_epoch,
    make_rule,
    parse_when,
    zone_named,
)
from mgops.oncall.rotation import (
    MemberChange as RotationChange,
)
from mgops.oncall.rotation import (
    add_member as add_to_rotation,
)
from mgops.oncall.rotation import (
    remove_member as remove_from_rotation,
)
from mgops.oncall.schedule import Handoff, OnCall, ScheduleState
from mgops.policy import Policy
from mgops.policy.schema import Rotation

Source = Session | ScheduleState
MAX_RANGE = timedelta(days=3 * 366)


def ensure_seeded(session: Session, policy: Policy, *, now: datetime) -> int:
    """Copy the policy's people and rotations the store lacks; how many schedules."""
    seed_people(session, policy, now=now)
    known = set(session.scalars(select(Schedule.name)))
    created = 0
    for rotation in policy.rotations:
        if rotation.name in known:
            continue
        try:
            with session.begin_nested():
                _seed_rotation(session, rotation, now)
        except IntegrityError:
            continue  # another process seeded it between our read and write
        created += 1
    return created


def _seed_rotation(session: Session, rotation: Rotation, now: datetime) -> None:
    _ensure_member_people(session, rotation.members, now)
    row = Schedule(
        name=rotation.name,
        timezone=rotation.timezone,
        length=rotation.length,
        custom_hours=rotation.custom_hours,
        start_local=_wall_text(rotation.start, rotation.timezone),
        handoff_weekday=rotation.handoff.weekday,
        handoff_time=rotation.handoff.time.strftime("%H:%M"),
        secondary=rotation.secondary,
        active_days=rotation.active_days,
        active_start=_hhmm(rotation.active_start),
        active_end=_hhmm(rotation.active_end),
        procedure=[{"id": i.id, "text": i.text} for i in rotation.handoff.procedure],
        requirements=list(rotation.requirements),
        source="policy",
        created_at=now,
    )
    session.add(row)
    session.flush()
    epoch = initial_epoch(_rule(row), rotation.members)
    session.add(_epoch_row(row, 0, epoch, "initial", None, None, "policy", now, ""))
    session.flush()


def _ensure_member_people(session: Session, members: list[str], now: datetime) -> None:
    from mgops.oncall.people import add_person, get_person

    for handle in members:
        try:
            get_person(session, handle)
        except NotFound:
            add_person(session, handle=handle, name=handle, now=now, source="policy")


def _wall_text(start: datetime, zone: str) -> str:
    if start.tzinfo is not None:
        from mgops.oncall.rotation import local_wall, zone_named

        start = local_wall(start, zone_named(zone))
    return start.isoformat(timespec="seconds")


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def _rule(row: Schedule) -> RotationRule:
    return make_rule(
        timezone=row.timezone,
        length=row.length,
        custom_hours=row.custom_hours,
        start=datetime.fromisoformat(row.start_local),
        handoff_time=time.fromisoformat(row.handoff_time),
        handoff_weekday=row.handoff_weekday,
        secondary=row.secondary != "none",
        active_days=row.active_days,
        active_start=time.fromisoformat(row.active_start) if row.active_start else None,
        active_end=time.fromisoformat(row.active_end) if row.active_end else None,
    )


def schedule_names(session: Session) -> list[str]:
    return list(session.scalars(select(Schedule.name).order_by(Schedule.id)))


def schedule_row(session: Session, name: str | None) -> Schedule:
    """The named schedule, or the first one (the policy's first rotation)."""
    query = select(Schedule).order_by(Schedule.id)
    if name is not None:
        query = query.where(Schedule.name == name)
    row = session.scalars(query).first()
    if row is None:
        names = ", ".join(schedule_names(session)) or "none yet"
        what = f"no schedule named {name!r}" if name else "no schedule"
        raise NotFound(f"There is {what} (schedules: {names}).")
    return row


def load_state(
    session: Session,
    name: str | None,
    *,
    window: tuple[datetime, datetime] | None = None,
) -> ScheduleState:
    """A schedule's state; ``window`` limits which overrides are read."""
    row = schedule_row(session, name)
    rule = _rule(row)
    epochs = tuple(
        Epoch(e.effective_at, tuple(e.members), e.first_shift, e.first_position)
        for e in row.epochs
    )
    query = select(ScheduleOverride).where(
        ScheduleOverride.schedule_id == row.id,
        or_(
            ScheduleOverride.removed_at.is_(None),
            ScheduleOverride.starts_at < ScheduleOverride.removed_at,
        ),
    )
    if window is not None:
        margin = rule.step * 2
        query = query.where(
            ScheduleOverride.ends_at > as_utc(window[0]) - margin,
            ScheduleOverride.starts_at < as_utc(window[1]) + margin,
        )
    overrides = tuple(
        Override(o.id, o.person, o.starts_at, o.ends_at, o.covers)
        for o in session.scalars(query.order_by(ScheduleOverride.id))
    )
    procedure = tuple((i["id"], i["text"]) for i in row.procedure)
    return ScheduleState(row.name, rule, epochs, overrides, procedure)


def _state(
    source: Source, name: str | None, lo: datetime, hi: datetime
) -> ScheduleState:
    if isinstance(source, ScheduleState):
        if name is not None and name != source.name:
            raise InputError(f"The state given is {source.name!r}, not {name!r}.")
        return source
    return load_state(source, name, window=(lo, hi))


def who_is_on_call(
    source: Source,
    schedule: str | None,
    at: datetime,
    *,
    policy: Policy | None = None,
) -> OnCall:
    """Primary, secondary and the bounds of their stretch at ``at``.

    ``source`` is a session or a ``ScheduleState``; ``schedule`` None means the
    first schedule. With ``policy`` given, a fresh store is seeded first.
    """
    if policy is not None and isinstance(source, Session):
        ensure_seeded(source, policy, now=at)
    return pure.on_call_at(_state(source, schedule, at, at), at)


def next_handoff(source: Source, schedule: str | None, after: datetime) -> Handoff:
    """The first hand-off strictly after ``after``, with who hands to whom."""
    state = _state(source, schedule, after, after)
    return pure.next_handoff(state, after)


def schedule_timeline(
    source: Source, schedule: str | None, start: datetime, end: datetime
) -> list[Segment]:
    if as_utc(end) <= as_utc(start):
        raise InputError("The end of the range comes before its start.")
    if as_utc(end) - as_utc(start) > MAX_RANGE:
        raise InputError("Ask for at most three years of schedule at a time.")
    return pure.timeline(_state(source, schedule, start, end), start, end)


@dataclass(frozen=True)
class MembershipChange:
    schedule: str
    seq: int
    effective_at: datetime
    change: str
    person: str | None
    takes_over: str | None
    members: list[str]
    actor: str
    note: str


def add_member(
    session: Session,
    schedule: str | None,
    person: str,
    *,
    at: datetime,
    actor: str,
    position: int | None = None,
) -> MembershipChange:
    """Add ``person`` from ``at`` on; whoever is on call keeps the shift."""
    require_people(session, [person])
    row = schedule_row(session, schedule)
    epochs = _epochs(row)
    size = len(epochs[-1].members)
    if position is not None and not 0 <= position <= size:
        raise InputError(f"Position {position} is outside the rotation (0–{size}).")
    change = add_to_rotation(_rule(row), epochs, person, as_utc(at), position)
    return _record(session, row, change, "add", person, actor, as_utc(at))


def remove_member(
    session: Session, schedule: str | None, person: str, *, at: datetime, actor: str
) -> MembershipChange:
    """Take ``person`` out from ``at`` on; if on call, the next one takes over now."""
    row = schedule_row(session, schedule)
    change = remove_from_rotation(_rule(row), _epochs(row), person, as_utc(at))
    return _record(session, row, change, "remove", person, actor, as_utc(at))


def membership_history(
    session: Session, schedule: str | None
) -> list[MembershipChange]:
    row = schedule_row(session, schedule)
    return [_change_view(row, e) for e in row.epochs]


def _epochs(row: Schedule) -> list[Epoch]:
    return [
        Epoch(e.effective_at, tuple(e.members), e.first_shift, e.first_position)
        for e in row.epochs
    ]


def _record(
    session: Session,
    row: Schedule,
    change: RotationChange,
    kind: str,
    person: str,
    actor: str,
    at: datetime,
) -> MembershipChange:
    seq = (row.epochs[-1].seq + 1) if row.epochs else 0
    entry = _epoch_row(
        row,
        seq,
        change.epoch,
        kind,
        person,
        change.takes_over,
        actor,
        at,
        change.note,
    )
    session.add(entry)
    session.flush()
    session.refresh(row)
    return _change_view(row, entry)


def _epoch_row(
    row: Schedule,
    seq: int,
    epoch: Epoch,
    change: str,
    person: str | None,
    takes_over: str | None,
    actor: str,
    recorded_at: datetime,
    note: str,
) -> RotationEpoch:
    return RotationEpoch(
        schedule_id=row.id,
        seq=seq,
        effective_at=epoch.effective_at,
        members=list(epoch.members),
        first_shift=epoch.first_shift,
        first_position=epoch.first_position,
        change=change,
        person=person,
        takes_over=takes_over,
        actor=actor,
        recorded_at=recorded_at,
        note=note or f"Rotation starts with {', '.join(epoch.members)}.",
    )


def _change_view(row: Schedule, e: RotationEpoch) -> MembershipChange:
    return MembershipChange(
        schedule=row.name,
        seq=e.seq,
        effective_at=e.effective_at,
        change=e.change,
        person=e.person,
        takes_over=e.takes_over,
        members=list(e.members),
        actor=e.actor,
        note=e.note,
    )


@dataclass(frozen=True)
class OverrideView:
    id: int
    schedule: str
    timezone: str  # the schedule's: how its times read on a wall clock
    kind: str
    person: str
    covers: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    removed_at: datetime | None


def add_override(
    session: Session,
    schedule: str | None,
    *,
    person: str,
    starts_at: datetime,
    ends_at: datetime,
    covers: str | None = None,
    reason: str = "",
    actor: str,
    now: datetime,
) -> OverrideView:
    """ "``person`` covers ``covers``" or "``person`` is on call" in a window."""
    starts_at, ends_at = as_utc(starts_at), as_utc(ends_at)
    check_override(Override(None, person, starts_at, ends_at, covers))
    if ends_at <= as_utc(now):
        raise InputError("The override is over before it is added; nothing was done.")
    require_people(session, [person] + ([covers] if covers else []))
    row = schedule_row(session, schedule)
    entry = ScheduleOverride(
        schedule_id=row.id,
        person=person,
        covers=covers,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=actor,
        created_at=as_utc(now),
    )
    session.add(entry)
    session.flush()
    return _override_view(row, entry)


def list_overrides(
    session: Session,
    schedule: str | None,
    *,
    now: datetime,
    include_past: bool = False,
) -> list[OverrideView]:
    """Overrides not yet over (all of them with ``include_past``), by start."""
    query = select(ScheduleOverride, Schedule).join(
        Schedule, Schedule.id == ScheduleOverride.schedule_id
    )
    if schedule is not None:
        query = query.where(Schedule.name == schedule_row(session, schedule).name)
    if not include_past:
        query = query.where(
            ScheduleOverride.ends_at > as_utc(now),
            ScheduleOverride.removed_at.is_(None),
        )
    query = query.order_by(ScheduleOverride.starts_at, ScheduleOverride.id)
    return [_override_view(row, o) for o, row in session.execute(query).all()]


def remove_override(
    session: Session, override_id: int, *, actor: str, now: datetime
) -> OverrideView:
    """Cancel an override; one already running ends now, keeping its past."""
    entry = session.get(ScheduleOverride, override_id)
    if entry is None:
        raise NotFound(f"There is no override {override_id}.")
    now = as_utc(now)
    if entry.removed_at is not None:
        raise Conflict(f"Override {override_id} was removed already.")
    if entry.ends_at <= now:
        raise Conflict(f"Override {override_id} is over already; it stays on record.")
    entry.removed_at = now
    entry.removed_by = actor
    if entry.starts_at < now:
        entry.ends_at = now
    session.flush()
    owner = session.get(Schedule, entry.schedule_id)
    assert owner is not None, "an override belongs to a schedule (foreign key)"
    return _override_view(owner, entry)


def _override_view(schedule: Schedule, o: ScheduleOverride) -> OverrideView:
    return OverrideView(
        id=o.id,
        schedule=schedule.name,
        timezone=schedule.timezone,
        kind="covers" if o.covers else "window",
        person=o.person,
        covers=o.covers,
        starts_at=o.starts_at,
        ends_at=o.ends_at,
        reason=o.reason,
        created_by=o.created_by,
        created_at=o.created_at,
        removed_at=o.removed_at,
    )


@dataclass(frozen=True)
class WhoAnswer:
    """One schedule's answer to "who is on call at …", with its next hand-off."""

    timezone: str
    oncall: OnCall
    next_handoff: Handoff


def who_answers(
    session: Session, schedule: str | None, at: str | None, *, now: datetime
) -> list[WhoAnswer]:
    """Every schedule's (or one's) on-call at ``at``: ISO text, read in each
    schedule's own zone when it has no offset; None or "now" means ``now``."""
    rows = (
        [schedule_row(session, schedule)]
        if schedule is not None
        else [schedule_row(session, name) for name in schedule_names(session)]
    )
    answers = []
    for row in rows:
        when = instant_named(at, zone_named(row.timezone), now=now)
        answers.append(
            WhoAnswer(
                row.timezone,
                who_is_on_call(session, row.name, when),
                next_handoff(session, row.name, when),
            )
        )
    return answers


def instant_named(text: str | None, zone: ZoneInfo, *, now: datetime) -> datetime:
    """``text`` as an instant: None or "now" is ``now``; a time without an
    offset is read in ``zone`` (as the CLI reads ``--at``, ``--from``, ``--to``)."""
    if text is None or text.strip().lower() == "now":
        return now
    return parse_when(text, zone)
