"""A schedule's whole state, and the answers built from it.

``ScheduleState`` is plain data (the rule, the membership epochs, the live
overrides) so the questions the escalation engine asks — who is on call at an
instant, when is the next hand-off — are pure functions of it. The store-backed
versions in ``mgops.oncall.service`` load a state and call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mgops.clock import as_utc
from mgops.oncall.overrides import Override, apply_overrides
from mgops.oncall.rotation import Epoch, RotationRule, Segment, base_timeline


@dataclass(frozen=True)
class ScheduleState:
    name: str
    rule: RotationRule
    epochs: tuple[Epoch, ...]
    overrides: tuple[Override, ...] = ()
    procedure: tuple[tuple[str, str], ...] = field(default=())

    @property
    def members(self) -> tuple[str, ...]:
        return self.epochs[-1].members if self.epochs else ()


@dataclass(frozen=True)
class OnCall:
    """Who is on call at ``at``; ``shift_start``/``shift_end`` bound the stretch
    that the primary (or nobody) holds it without a change, within one shift."""

    schedule: str
    at: datetime
    primary: str | None
    secondary: str | None
    shift_start: datetime
    shift_end: datetime
    via_override: bool = False
    override_id: int | None = None
    covering: str | None = None


@dataclass(frozen=True)
class Handoff:
    """Hand-off ``shift`` at ``at``: ``outgoing`` hands over to ``incoming``."""

    schedule: str
    shift: int
    at: datetime
    outgoing: str | None
    incoming: str | None
    shift_end: datetime


def timeline(state: ScheduleState, start: datetime, end: datetime) -> list[Segment]:
    """Contiguous segments covering ``[start, end)`` with overrides applied."""
    start, end = as_utc(start), as_utc(end)
    base = base_timeline(state.rule, state.epochs, start, end)
    relevant = [o for o in state.overrides if o.ends_at > start and o.starts_at < end]
    return apply_overrides(base, relevant)


def on_call_at(state: ScheduleState, at: datetime) -> OnCall:
    """Primary and secondary at ``at``, after restrictions and overrides."""
    at = as_utc(at)
    rule = state.rule
    k = rule.shift_index(at)
    lo = rule.handoff(k) if k >= 0 else at
    hi = rule.handoff(k + 1) if k >= 0 else rule.handoff(0)
    segments = timeline(state, lo, hi)
    index = next(i for i, s in enumerate(segments) if s.start <= at < s.end)
    here = segments[index]
    first, last = index, index
    while first > 0 and segments[first - 1].primary == here.primary:
        first -= 1
    while last + 1 < len(segments) and segments[last + 1].primary == here.primary:
        last += 1
    return OnCall(
        schedule=state.name,
        at=at,
        primary=here.primary,
        secondary=here.secondary,
        shift_start=segments[first].start,
        shift_end=segments[last].end,
        via_override=here.via_override,
        override_id=here.override_id,
        covering=here.covering,
    )


def shift_holder(state: ScheduleState, k: int, *, as_of: datetime) -> str | None:
    """Who holds shift ``k`` as the membership stood at ``as_of``, with overrides.

    Active hours are ignored: a restricted rotation still hands a shift to
    somebody, even if the hand-off instant itself is outside the window.
    """
    if k < 0:
        return None
    rule = state.rule
    start = rule.handoff(k)
    last_instant = rule.handoff(k + 1) - timedelta(microseconds=1)
    reference = max(start, min(as_utc(as_of), last_instant))
    epochs = [e for e in state.epochs if e.effective_at <= reference]
    if not epochs:
        return None
    latest = epochs[-1]
    primary: str | None = latest.members[latest.position(k)]
    for override in sorted(state.overrides, key=lambda o: o.id or 0):
        if override.starts_at <= start < override.ends_at and (
            override.covers is None or override.covers == primary
        ):
            primary = override.person
    return primary


def next_handoff(state: ScheduleState, after: datetime) -> Handoff:
    """The first hand-off strictly after ``after``."""
    after = as_utc(after)
    rule = state.rule
    k = max(rule.shift_index(after) + 1, 0)
    while rule.handoff(k + 1) == rule.handoff(k):
        k += 1  # a zero-length shift (a step inside a DST gap) hands nothing over
    return handoff_of(state, k, as_of=after)


def current_handoff(state: ScheduleState, at: datetime) -> Handoff | None:
    """The hand-off that started the shift running at ``at`` (None before any)."""
    k = state.rule.shift_index(as_utc(at))
    return handoff_of(state, k, as_of=at) if k >= 0 else None


def handoff_of(state: ScheduleState, k: int, *, as_of: datetime) -> Handoff:
    rule = state.rule
    return Handoff(
        schedule=state.name,
        shift=k,
        at=rule.handoff(k),
        outgoing=shift_holder(state, k - 1, as_of=as_of),
        incoming=shift_holder(state, k, as_of=as_of),
        shift_end=rule.handoff(k + 1),
    )


def handoffs(state: ScheduleState, start: datetime, end: datetime) -> list[Handoff]:
    """Every hand-off in ``[start, end)``."""
    start, end = as_utc(start), as_utc(end)
    k = max(state.rule.shift_index(start), 0)
    found: list[Handoff] = []
    while (at := state.rule.handoff(k)) < end:
        if at >= start and at < state.rule.handoff(k + 1):
            found.append(handoff_of(state, k, as_of=at))
        k += 1
    return found


def shifts_of(
    state: ScheduleState, person: str, start: datetime, end: datetime
) -> Sequence[Segment]:
    """The segments in ``[start, end)`` where ``person`` is primary or secondary."""
    return [
        s for s in timeline(state, start, end) if person in (s.primary, s.secondary)
    ]
