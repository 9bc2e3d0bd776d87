"""Hard cases O1–O4 of ../shared/cases/README.md, with their inputs written here.

Rotation R4: people A, B, C, D; weekly; hand-off Monday 09:00 Europe/Berlin;
A starts on 2026-03-02 09:00; the secondary is the next person in order.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mgops.oncall.overrides import Override
from mgops.oncall.rotation import add_member, parse_when, remove_member
from mgops.oncall.schedule import (
    ScheduleState,
    handoffs,
    next_handoff,
    on_call_at,
    timeline,
)
from tests.oncall.conftest import MakeState

BERLIN = ZoneInfo("Europe/Berlin")
PARIS = ZoneInfo("Europe/Paris")


def berlin(text: str) -> datetime:
    return parse_when(text, BERLIN)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def assert_one_primary_throughout(
    state: ScheduleState, start: datetime, end: datetime
) -> None:
    """Segments tile [start, end) with exactly one primary each, and every probe
    (hourly, and one second either side of each change) agrees with them."""
    segments = timeline(state, start, end)

    assert start == segments[0].start
    assert end == segments[-1].end
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start
    assert all(s.primary is not None for s in segments)

    hours = int((end - start) / timedelta(hours=1))
    probes = [start + timedelta(hours=h) for h in range(hours)]
    for s in segments[1:]:
        probes += [s.start - timedelta(seconds=1), s.start]
    assert len(probes) > hours
    for at in probes:
        holder = next(s for s in segments if s.start <= at < s.end)
        assert holder.primary == on_call_at(state, at).primary


class TestO1SpringAndAutumn:
    def test_spring_handoffs_are_167_hours_apart(self, make_state: MakeState) -> None:
        """Hand-offs at 2026-03-23T08:00Z and 2026-03-30T07:00Z: a 167-hour week."""
        state = make_state()

        found = [h.at for h in handoffs(state, utc("2026-03-23"), utc("2026-03-31"))]

        assert [utc("2026-03-23T08:00"), utc("2026-03-30T07:00")] == found
        assert timedelta(hours=167) == found[1] - found[0]

    def test_d_until_0859_and_a_from_0900_local(self, make_state: MakeState) -> None:
        """2026-03-30 08:59 local → D; 09:00 local → A."""
        state = make_state()

        assert on_call_at(state, berlin("2026-03-30 08:59")).primary == "D"
        assert on_call_at(state, berlin("2026-03-30 09:00")).primary == "A"

    def test_autumn_week_is_169_hours(self, make_state: MakeState) -> None:
        """The week across 2026-10-25 runs 169 hours, Monday 09:00 to Monday 09:00."""
        state = make_state()

        found = [h.at for h in handoffs(state, utc("2026-10-19"), utc("2026-10-27"))]

        assert [utc("2026-10-19T07:00"), utc("2026-10-26T08:00")] == found
        assert timedelta(hours=169) == found[1] - found[0]

    def test_exactly_one_primary_from_march_to_november(
        self, make_state: MakeState
    ) -> None:
        """At no instant between 2026-03-23 and 2026-11-02 zero or two primaries."""
        state = make_state()

        assert_one_primary_throughout(state, berlin("2026-03-23"), berlin("2026-11-02"))


class TestO2WeekdaysOnly:
    def make(self, make_state: MakeState) -> ScheduleState:
        return make_state(
            ("A", "B"),
            zone="Europe/Paris",
            length="daily",
            start=datetime(2026, 3, 2, 8, 0),
            handoff_time=time(8, 0),
            active_days=["monday", "tuesday", "wednesday", "thursday", "friday"],
            active_start=time(8, 0),
            active_end=time(18, 0),
        )

    def test_one_primary_each_weekday_alternating(self, make_state: MakeState) -> None:
        """Weekdays 08:00–18:00 local have one primary, A, B, A, …; across DST too."""
        state = self.make(make_state)
        start, end = parse_when("2026-03-02", PARIS), parse_when("2026-04-13", PARIS)

        on_call = [s for s in timeline(state, start, end) if s.primary is not None]
        days = [s.start.astimezone(PARIS) for s in on_call]

        assert len(on_call) == 30
        assert all(d.weekday() < 5 for d in days)
        assert all(
            (d.hour, d.minute) == (8, 0)
            and (s.end.astimezone(PARIS).hour, s.end.astimezone(PARIS).minute)
            == (18, 0)
            and s.end.astimezone(PARIS).date() == d.date()
            for s, d in zip(on_call, days, strict=True)
        )
        assert len({d.date() for d in days}) == 30
        assert [s.primary for s in on_call] == ["A", "B"] * 15

    def test_nobody_at_weekends_or_at_night(self, make_state: MakeState) -> None:
        """Saturday noon, Sunday noon and Monday 07:59 local: nobody on call."""
        state = self.make(make_state)

        for text in ("2026-03-07 12:00", "2026-03-08 12:00", "2026-03-09 07:59"):
            assert on_call_at(state, parse_when(text, PARIS)).primary is None
        assert on_call_at(state, parse_when("2026-03-09 08:00", PARIS)).primary == "B"


class TestO3MembershipChanges:
    AT = "2026-03-18 12:00"

    def test_removing_a_keeps_c_then_d_then_b(self, make_state: MakeState) -> None:
        """C stays on call now; the next hand-off goes to D, then B."""
        state = make_state()
        now = berlin(self.AT)
        assert on_call_at(state, now).primary == "C"

        change = remove_member(state.rule, state.epochs, "A", now)
        after = replace(state, epochs=(*state.epochs, change.epoch))
        following = next_handoff(after, now)

        assert on_call_at(after, now).primary == "C"
        assert following.incoming == "D"
        assert berlin("2026-03-23 09:00") == following.at
        assert next_handoff(after, following.at).incoming == "B"

    def test_removing_c_makes_d_on_call_at_once(self, make_state: MakeState) -> None:
        """Removing C instead: D is on call at once, and the record says so."""
        state = make_state()
        now = berlin(self.AT)

        change = remove_member(state.rule, state.epochs, "C", now)
        after = replace(state, epochs=(*state.epochs, change.epoch))

        assert on_call_at(after, now).primary == "D"
        assert now == on_call_at(after, now).shift_start
        assert on_call_at(after, now - timedelta(seconds=1)).primary == "C"
        assert change.takes_over == "D"
        assert "C removed while on call; D is on call at once" in change.note
        assert next_handoff(after, now).incoming == "A"

    def test_adding_keeps_c_on_call(self, make_state: MakeState) -> None:
        """Adding E changes nobody now; E takes a turn after D."""
        state = make_state()
        now = berlin(self.AT)

        change = add_member(state.rule, state.epochs, "E", now)
        after = replace(state, epochs=(*state.epochs, change.epoch))
        first = next_handoff(after, now)

        assert on_call_at(after, now).primary == "C"
        assert first.incoming == "D"
        assert next_handoff(after, first.at).incoming == "E"


class TestO4Covers:
    """X on call Mon and Tue 09:00–17:00 (an 8-hour rotation X, N, E);
    override "Y covers X" from Mon 08:00 to Tue 18:00."""

    def make(self, make_state: MakeState) -> ScheduleState:
        override = Override(
            1, "Y", berlin("2026-03-02 08:00"), berlin("2026-03-03 18:00"), covers="X"
        )
        return make_state(
            ("X", "N", "E"),
            length="custom",
            custom_hours=8,
            start=datetime(2026, 3, 2, 9, 0),
            overrides=[override],
        )

    def test_the_four_probes(self, make_state: MakeState) -> None:
        """Mon 12:00 → Y; Mon 20:00 → base; Tue 12:00 → Y; Tue 17:30 → not Y."""
        state = self.make(make_state)

        assert on_call_at(state, berlin("2026-03-02 12:00")).primary == "Y"
        assert on_call_at(state, berlin("2026-03-02 20:00")).primary == "N"
        assert on_call_at(state, berlin("2026-03-03 12:00")).primary == "Y"
        assert on_call_at(state, berlin("2026-03-03 17:30")).primary == "N"

    def test_y_holds_exactly_xs_intervals(self, make_state: MakeState) -> None:
        """Y's stretches are X's two shifts, nothing more, and say whom they cover."""
        state = self.make(make_state)
        start, end = berlin("2026-03-02 00:00"), berlin("2026-03-04 00:00")

        covered = [
            (s.start, s.end, s.covering)
            for s in timeline(state, start, end)
            if s.primary == "Y"
        ]

        assert [
            (berlin("2026-03-02 09:00"), berlin("2026-03-02 17:00"), "X"),
            (berlin("2026-03-03 09:00"), berlin("2026-03-03 17:00"), "X"),
        ] == covered
        assert on_call_at(state, berlin("2026-03-02 12:00")).via_override
