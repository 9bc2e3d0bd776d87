"""Rotation math: who holds which shift, with hand-offs at a local wall-clock time.

Everything here is pure: no store, no clock. Instants are aware UTC datetimes;
wall-clock times are naive datetimes read in the rotation's IANA zone.

The hand-off rule
-----------------
A rotation has an *anchor*, the local wall-clock time of its first hand-off, and
a *step* measured on the wall clock: one day (daily), seven days (weekly) or a
number of hours (custom). Hand-off ``k`` happens at the local wall-clock time
``anchor + k * step``, turned into an instant by ``resolve_local``. A shift runs
from one hand-off to the next, so its length in real hours is whatever the wall
clock says: a weekly Monday 09:00 hand-off in Berlin gives a 167-hour week when
the clocks go forward and a 169-hour week when they go back.

For daily and weekly rotations the anchor is the first hand-off time (on the
hand-off weekday, for weekly) at or after the rotation's start; a custom
rotation hands off at its start time and every ``custom_hours`` after it.

Gaps and folds
--------------
``resolve_local`` is the only way a wall-clock time becomes an instant, and
every hand-off, active-hours edge and time typed without an offset goes through
it:

- a time that falls in a spring-forward gap (02:30 on the night Berlin skips
  from 02:00 to 03:00) moves forward to the first valid instant, the moment
  the gap ends (03:00 local);
- a time that occurs twice in an autumn fold takes its first occurrence.

A custom step shorter than a gap can make a shift zero hours long; such a shift
holds no instant and is never reported.

Active hours
------------
A rotation may be restricted to weekdays and/or a daily window (08:00–18:00,
or 22:00–06:00 across midnight, the window belonging to the day it starts). The
rotation keeps turning at its hand-offs whatever the restriction; outside the
windows nobody is on call.

Membership epochs
-----------------
Membership changes never rewrite the past. Each change starts an ``Epoch``
effective at the instant of the change, recording the new order, the shift that
was running and the position in the new order of whoever holds it from then on.
Adding a member, or removing anyone but the person on call, keeps the current
holder; the next hand-off continues in the new order. Removing the person on
call hands the rest of the shift at once to whoever was next.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mgops.errors import Conflict, InputError

WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
LENGTHS = ("daily", "weekly", "custom")


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"{name!r} is not an IANA time zone.") from None


def local_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time that ``instant`` shows in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None)


@functools.lru_cache(maxsize=65536)
def resolve_local(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (gap: forward; fold: first)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if local_wall(first, zone) == wall:
        return first
    # In a gap: fold=1 reads the time with the offset after the change, which
    # lands before the gap; the first valid instant lies between the two.
    other = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = sorted((int(first.timestamp()), int(other.timestamp()) + 1))
    while high - low > 1:
        middle = (low + high) // 2
        if local_wall(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def in_gap(wall: datetime, zone: ZoneInfo) -> bool:
    """True when ``wall`` never shows on the clocks of ``zone``."""
    return local_wall(resolve_local(wall, zone), zone) != wall


@dataclass(frozen=True)
class ActiveHours:
    """When a restricted rotation is on call: weekdays (0 = Monday) and a window."""

    days: frozenset[int] = frozenset(range(7))
    start: time | None = None
    end: time | None = None

    def window_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The instants of the window that starts on local ``day``."""
        if self.start is None or self.end is None:
            start_wall = datetime.combine(day, time())
            end_wall = start_wall + timedelta(days=1)
        else:
            start_wall = datetime.combine(day, self.start)
            end_day = day + timedelta(days=1) if self.end <= self.start else day
            end_wall = datetime.combine(end_day, self.end)
        return resolve_local(start_wall, zone), resolve_local(end_wall, zone)


@dataclass(frozen=True)
class RotationRule:
    """When hand-offs happen, and when anybody is on call at all."""

    zone: ZoneInfo
    anchor: datetime
    step: timedelta
    secondary: bool = True
    active: ActiveHours | None = None

    def handoff(self, k: int) -> datetime:
        """The instant of hand-off ``k`` (0 is the rotation's first)."""
        return resolve_local(self.anchor + k * self.step, self.zone)

    def shift_index(self, at: datetime) -> int:
        """The ``k`` with ``handoff(k) <= at < handoff(k + 1)``; negative before."""
        k = (local_wall(at, self.zone) - self.anchor) // self.step
        while self.handoff(k) > at:
            k -= 1
        while self.handoff(k + 1) <= at:
            k += 1
        return k

    def windows(
        self, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Active windows overlapping ``[start, end)``, merged and in order."""
        if self.active is None:
            return [(start, end)]
        first = local_wall(start, self.zone).date() - timedelta(days=1)
        last = local_wall(end, self.zone).date() + timedelta(days=1)
        found: list[tuple[datetime, datetime]] = []
        day = first
        while day <= last:
            if day.weekday() in self.active.days:
                lo, hi = self.active.window_on(day, self.zone)
                if lo < hi and hi > start and lo < end:
                    if found and lo <= found[-1][1]:
                        found[-1] = (found[-1][0], max(found[-1][1], hi))
                    else:
                        found.append((lo, hi))
            day += timedelta(days=1)
        return found


def make_rule(
    *,
    timezone: str,
    length: str,
    start: datetime,
    handoff_time: time,
    handoff_weekday: str = "monday",
    custom_hours: int | None = None,
    secondary: bool = True,
    active_days: Sequence[str] | None = None,
    active_start: time | None = None,
    active_end: time | None = None,
) -> RotationRule:
    """A rule from the policy's words; ``start`` is naive local wall-clock time."""
    zone = zone_named(timezone)
    if start.tzinfo is not None:
        start = local_wall(start, zone)
    anchor, step = _anchor_and_step(
        length, start, handoff_time, handoff_weekday, custom_hours
    )
    active = None
    if active_days is not None or active_start is not None:
        days = frozenset(range(7))
        if active_days is not None:
            days = frozenset(weekday_number(d) for d in active_days)
        active = ActiveHours(days=days, start=active_start, end=active_end)
    return RotationRule(
        zone=zone, anchor=anchor, step=step, secondary=secondary, active=active
    )


def _anchor_and_step(
    length: str,
    start: datetime,
    at: time,
    weekday: str,
    custom_hours: int | None,
) -> tuple[datetime, timedelta]:
    if length == "custom":
        if not custom_hours or custom_hours < 1:
            raise InputError("A custom rotation needs custom_hours of 1 or more.")
        return start, timedelta(hours=custom_hours)
    if length not in LENGTHS:
        raise InputError(f"Rotation length {length!r} is not one of {LENGTHS}.")
    candidate = datetime.combine(start.date(), at)
    if candidate < start:
        candidate += timedelta(days=1)
    if length == "daily":
        return candidate, timedelta(days=1)
    wanted = weekday_number(weekday)
    candidate += timedelta(days=(wanted - candidate.weekday()) % 7)
    return candidate, timedelta(days=7)


def weekday_number(name: str) -> int:
    try:
        return WEEKDAYS.index(name.lower())
    except ValueError:
        raise InputError(f"{name!r} is not a weekday.") from None


@dataclass(frozen=True)
class Epoch:
    """Membership from ``effective_at`` on: ``members[first_position]`` holds
    shift ``first_shift`` from that instant, and each later shift goes to the
    next member in order."""

    effective_at: datetime
    members: tuple[str, ...]
    first_shift: int
    first_position: int

    def position(self, k: int) -> int:
        return (self.first_position + k - self.first_shift) % len(self.members)


def initial_epoch(rule: RotationRule, members: Sequence[str]) -> Epoch:
    if not members:
        raise InputError("A rotation needs at least one member.")
    if len(set(members)) != len(members):
        raise InputError("A rotation lists each member once.")
    return Epoch(rule.handoff(0), tuple(members), 0, 0)


def epoch_at(epochs: Sequence[Epoch], at: datetime) -> Epoch | None:
    """The epoch in force at ``at``: the last one that took effect by then."""
    keys = [e.effective_at for e in epochs]
    index = bisect.bisect_right(keys, at)
    return epochs[index - 1] if index else None


def holders(
    rule: RotationRule, epochs: Sequence[Epoch], k: int, at: datetime
) -> tuple[str | None, str | None]:
    """Primary and secondary of shift ``k`` at ``at``, ignoring active hours."""
    epoch = epoch_at(epochs, at)
    if epoch is None or k < 0:
        return None, None
    position = epoch.position(k)
    members = epoch.members
    primary = members[position]
    secondary = None
    if rule.secondary and len(members) > 1:
        secondary = members[(position + 1) % len(members)]
    return primary, secondary


@dataclass(frozen=True)
class MemberChange:
    """A membership change: the new epoch and a sentence for the record."""

    epoch: Epoch
    note: str
    takes_over: str | None = None


def add_member(
    rule: RotationRule,
    epochs: Sequence[Epoch],
    person: str,
    at: datetime,
    position: int | None = None,
) -> MemberChange:
    """Insert ``person`` (at ``position``, else last) without moving today's shift."""
    k = rule.shift_index(at)
    current = _latest(rule, epochs, at, k)
    if person in current.members:
        raise Conflict(f"{person} is already in the rotation.")
    members = list(current.members)
    members.insert(len(members) if position is None else position, person)
    if k < 0:
        epoch = Epoch(rule.handoff(0), tuple(members), 0, 0)
        return MemberChange(epoch, f"{person} added before the rotation starts.")
    holder = current.members[current.position(k)]
    epoch = Epoch(at, tuple(members), k, members.index(holder))
    order = ", ".join(members)
    note = f"{person} added; {holder} keeps the shift; order now {order}."
    return MemberChange(epoch, note)


def remove_member(
    rule: RotationRule, epochs: Sequence[Epoch], person: str, at: datetime
) -> MemberChange:
    """Take ``person`` out; if they are on call, the next member takes over now."""
    k = rule.shift_index(at)
    current = _latest(rule, epochs, at, k)
    if person not in current.members:
        raise Conflict(f"{person} is not in the rotation.")
    if len(current.members) == 1:
        raise Conflict(
            f"{person} is the rotation's only member; add someone else first."
        )
    members = [m for m in current.members if m != person]
    order = ", ".join(members)
    if k < 0:
        epoch = Epoch(rule.handoff(0), tuple(members), 0, 0)
        return MemberChange(epoch, f"{person} removed before the rotation starts.")
    index = current.position(k)
    holder = current.members[index]
    if holder != person:
        epoch = Epoch(at, tuple(members), k, members.index(holder))
        note = f"{person} removed; {holder} keeps the shift; order now {order}."
        return MemberChange(epoch, note)
    successor = current.members[(index + 1) % len(current.members)]
    epoch = Epoch(at, tuple(members), k, members.index(successor))
    until = rule.handoff(k + 1).isoformat()
    note = (
        f"{person} removed while on call; {successor} is on call at once "
        f"until the hand-off at {until}; order now {order}."
    )
    return MemberChange(epoch, note, takes_over=successor)


def _latest(rule: RotationRule, epochs: Sequence[Epoch], at: datetime, k: int) -> Epoch:
    """The epoch a change at ``at`` builds on; changes never go back in time.

    A change before the rotation starts takes effect at its first hand-off.
    """
    if not epochs:
        raise Conflict("The rotation has no members yet.")
    latest = epochs[-1]
    effective = at if k >= 0 else rule.handoff(0)
    if effective < latest.effective_at:
        raise Conflict(
            "Membership changes apply from now on; the last change took effect "
            f"at {latest.effective_at.isoformat()}, after {at.isoformat()}."
        )
    return latest


@dataclass(frozen=True)
class Segment:
    """An interval with one primary (or nobody) inside one shift."""

    start: datetime
    end: datetime
    shift: int
    primary: str | None
    secondary: str | None
    via_override: bool = False
    override_id: int | None = None
    covering: str | None = None

    def same_holders(self, other: Segment) -> bool:
        return (
            self.shift,
            self.primary,
            self.secondary,
            self.via_override,
            self.override_id,
            self.covering,
        ) == (
            other.shift,
            other.primary,
            other.secondary,
            other.via_override,
            other.override_id,
            other.covering,
        )


def base_timeline(
    rule: RotationRule, epochs: Sequence[Epoch], start: datetime, end: datetime
) -> list[Segment]:
    """Contiguous segments covering ``[start, end)``: rotation plus active hours."""
    segments: list[Segment] = []
    if start >= end:
        return segments
    windows = rule.windows(start, end)
    edges = sorted({t for w in windows for t in w} | {e.effective_at for e in epochs})
    first = rule.handoff(0)
    if start < first:
        _append(segments, Segment(start, min(end, first), -1, None, None))
    k = max(rule.shift_index(start), 0)
    while (shift_start := rule.handoff(k)) < end:
        lo, hi = max(shift_start, start), min(rule.handoff(k + 1), end)
        cuts = [lo, *(t for t in edges if lo < t < hi), hi]
        for a, b in itertools.pairwise(cuts):
            primary, secondary = None, None
            if _inside(windows, a):
                primary, secondary = holders(rule, epochs, k, a)
            _append(segments, Segment(a, b, k, primary, secondary))
        k += 1
    return segments


def _inside(windows: Sequence[tuple[datetime, datetime]], at: datetime) -> bool:
    index = bisect.bisect_right([w[0] for w in windows], at) - 1
    return index >= 0 and at < windows[index][1]


def _append(segments: list[Segment], segment: Segment) -> None:
    if segment.start >= segment.end:
        return
    if segments and segments[-1].same_holders(segment):
        segments[-1] = replace(segments[-1], end=segment.end)
    else:
        segments.append(segment)


def parse_when(text: str, zone: ZoneInfo) -> datetime:
    """An instant from ISO 8601; a time without an offset is read in ``zone``."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise InputError(
            f"{text!r} is not a time: write 2026-03-30T09:00, "
            "2026-03-30 09:00+02:00 or 2026-03-30T07:00Z."
        ) from None
    if not 1900 <= value.year <= 2199:
        raise InputError(f"{text!r} is outside the years 1900–2199 mgops plans for.")
    if value.tzinfo is None:
        return resolve_local(value, zone)
    return value.astimezone(UTC)
