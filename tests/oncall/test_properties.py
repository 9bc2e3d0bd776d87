"""Properties over random rotations, zones and dates (hypothesis)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgops.oncall.rotation import (
    add_member,
    in_gap,
    local_wall,
    remove_member,
    resolve_local,
)
from mgops.oncall.schedule import ScheduleState, on_call_at, timeline
from tests.oncall.conftest import build_state

# Zones with awkward clocks: 30-minute DST (Lord Howe), midnight changes
# (Sao Paulo, historic), a skipped day (Apia, 2011), Ramadan DST (Casablanca),
# odd offsets (St John's, Kathmandu), and plain ones.
ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Africa/Casablanca",
    "Asia/Kathmandu",
    "Asia/Tehran",
]
PEOPLE = ["p0", "p1", "p2", "p3", "p4", "p5"]


@st.composite
def rotations(draw: st.DrawFn) -> ScheduleState:
    length = draw(st.sampled_from(["daily", "weekly", "custom"]))
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    handoff = time(draw(st.integers(0, 23)), minute)
    start_day = draw(st.dates(date(2008, 1, 1), date(2030, 12, 31)))
    return build_state(
        PEOPLE[: draw(st.integers(1, 6))],
        zone=draw(st.sampled_from(ZONES)),
        length=length,
        start=datetime.combine(start_day, handoff),
        handoff_time=handoff,
        weekday=draw(st.sampled_from(["monday", "wednesday", "sunday"])),
        custom_hours=draw(st.integers(1, 72)) if length == "custom" else None,
    )


def windows_of(state: ScheduleState, draw: st.DrawFn) -> tuple[datetime, datetime]:
    first = state.rule.handoff(0)
    start = first + timedelta(hours=draw(st.integers(-48, 24 * 400)))
    return start, start + timedelta(hours=draw(st.integers(1, 24 * 45)))


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class TestOnePrimary:
    @SETTINGS
    @given(state=rotations(), data=st.data())
    def test_exactly_one_primary_at_every_instant(
        self, state: ScheduleState, data: st.DataObject
    ) -> None:
        """Segments tile the range; after the first hand-off each has one primary."""
        start, end = windows_of(state, data.draw)
        first = state.rule.handoff(0)

        segments = timeline(state, start, end)

        assert start == segments[0].start
        assert end == segments[-1].end
        for a, b in itertools.pairwise(segments):
            assert a.end == b.start
            assert a.start < a.end
        for s in segments:
            assert (s.primary is None) == (s.end <= first)

    @SETTINGS
    @given(state=rotations(), data=st.data())
    def test_who_is_on_call_agrees_with_the_timeline(
        self, state: ScheduleState, data: st.DataObject
    ) -> None:
        """A random instant's answer is the segment holding it, and lies in it."""
        start, end = windows_of(state, data.draw)
        span = (end - start) // timedelta(microseconds=1)
        at = start + timedelta(microseconds=data.draw(st.integers(0, span - 1)))

        holder = next(s for s in timeline(state, start, end) if s.start <= at < s.end)
        found = on_call_at(state, at)

        assert holder.primary == found.primary
        assert found.shift_start <= at < found.shift_end


class TestHandoffsOnTheWallClock:
    @SETTINGS
    @given(state=rotations(), data=st.data())
    def test_every_handoff_at_the_local_wall_clock_time(
        self, state: ScheduleState, data: st.DataObject
    ) -> None:
        """Hand-off k shows anchor + k·step locally, or ends the gap it fell in."""
        rule = state.rule
        k0 = data.draw(st.integers(0, 400))
        for k in range(k0, k0 + 30):
            wall = rule.anchor + k * rule.step
            at = rule.handoff(k)
            shown = local_wall(at, rule.zone)
            if in_gap(wall, rule.zone):
                before = local_wall(at - timedelta(seconds=1), rule.zone)
                assert before < wall < shown
            else:
                assert wall == shown
                # A fold takes the first occurrence: an hour earlier shows
                # an earlier wall time.
                assert local_wall(at - timedelta(hours=1), rule.zone) < wall


class TestResolveLocal:
    @SETTINGS
    @given(
        zone=st.sampled_from(ZONES),
        instant=st.datetimes(datetime(2000, 1, 1), datetime(2035, 1, 1)),
    )
    def test_every_instant_resolves_to_itself_or_an_earlier_twin(
        self, zone: str, instant: datetime
    ) -> None:
        """The wall time of an instant resolves to it, or to its first occurrence."""
        tz = ZoneInfo(zone)
        at = instant.replace(tzinfo=UTC)

        back = resolve_local(local_wall(at, tz), tz)

        assert back <= at
        assert local_wall(back, tz) == local_wall(at, tz)


class TestMembershipNeverMovesNow:
    @SETTINGS
    @given(state=rotations(), data=st.data())
    def test_adding_keeps_the_person_on_call(
        self, state: ScheduleState, data: st.DataObject
    ) -> None:
        """After an add, who is on call now and at every earlier probe is unchanged."""
        start, end = windows_of(state, data.draw)
        now = start + (end - start) / 2
        position = data.draw(st.integers(0, len(state.members)))

        change = add_member(state.rule, state.epochs, "new", now, position)
        after = replace(state, epochs=(*state.epochs, change.epoch))

        for at in _probes(start, now):
            assert on_call_at(state, at).primary == on_call_at(after, at).primary

    @SETTINGS
    @given(state=rotations(), data=st.data())
    def test_removing_someone_else_keeps_the_person_on_call(
        self, state: ScheduleState, data: st.DataObject
    ) -> None:
        """Removing anyone but the primary changes nobody now or before."""
        start, end = windows_of(state, data.draw)
        now = start + (end - start) / 2
        primary = on_call_at(state, now).primary
        others = [m for m in state.members if m != primary]
        if not others or primary is None:
            return
        gone = data.draw(st.sampled_from(others))

        change = remove_member(state.rule, state.epochs, gone, now)
        after = replace(state, epochs=(*state.epochs, change.epoch))

        for at in _probes(start, now):
            assert on_call_at(state, at).primary == on_call_at(after, at).primary
        assert gone not in {s.primary for s in timeline(after, now, end)}

    @SETTINGS
    @given(state=rotations(), data=st.data())
    def test_removing_the_primary_keeps_the_past(
        self, state: ScheduleState, data: st.DataObject
    ) -> None:
        """Removing the primary: the past stands, the next member holds from now."""
        start, end = windows_of(state, data.draw)
        now = start + (end - start) / 2
        primary = on_call_at(state, now).primary
        if primary is None or len(state.members) < 2:
            return

        change = remove_member(state.rule, state.epochs, primary, now)
        after = replace(state, epochs=(*state.epochs, change.epoch))

        for at in _probes(start, now)[:-1]:
            assert on_call_at(state, at).primary == on_call_at(after, at).primary
        assert change.takes_over == on_call_at(after, now).primary
        assert primary not in {s.primary for s in timeline(after, now, end)}


def _probes(start: datetime, now: datetime) -> list[datetime]:
    """Twenty instants from ``start`` up to and including ``now``."""
    return [start + (now - start) * i / 19 for i in range(20)]
