"""The rotation rule: gaps and folds, anchors, lengths, active hours, parsing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mgops.errors import Conflict, InputError
from mgops.oncall.rotation import (
    add_member,
    in_gap,
    make_rule,
    parse_when,
    remove_member,
    resolve_local,
)
from mgops.oncall.schedule import handoffs, next_handoff, on_call_at, timeline
from tests.oncall.conftest import MakeState

BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class TestResolveLocal:
    def test_a_gap_moves_forward_to_its_end(self) -> None:
        """02:30 on the spring night Berlin skips is 03:00 local (01:00Z)."""
        assert utc("2026-03-29T01:00") == resolve_local(
            datetime(2026, 3, 29, 2, 30), BERLIN
        )
        assert in_gap(datetime(2026, 3, 29, 2, 30), BERLIN)

    def test_a_fold_takes_the_first_occurrence(self) -> None:
        """02:30 on the autumn night is the first 02:30, still summer time."""
        assert utc("2026-10-25T00:30") == resolve_local(
            datetime(2026, 10, 25, 2, 30), BERLIN
        )
        assert not in_gap(datetime(2026, 10, 25, 2, 30), BERLIN)

    def test_a_midnight_gap(self) -> None:
        """Sao Paulo skipped 00:00–01:00 on 2018-11-04: 00:30 → 01:00 local."""
        zone = ZoneInfo("America/Sao_Paulo")

        assert utc("2018-11-04T03:00") == resolve_local(
            datetime(2018, 11, 4, 0, 30), zone
        )


class TestHandoffsInGapsAndFolds:
    def test_a_daily_0230_handoff_on_the_spring_night(
        self, make_state: MakeState
    ) -> None:
        """A daily 02:30 hand-off happens at 03:00 local that night; 23h then 24.5h."""
        state = make_state(
            length="daily", start=datetime(2026, 3, 27, 2, 30), handoff_time=time(2, 30)
        )

        found = [h.at for h in handoffs(state, utc("2026-03-28"), utc("2026-03-31"))]

        assert [
            utc("2026-03-28T01:30"),
            utc("2026-03-29T01:00"),
            utc("2026-03-30T00:30"),
        ] == found

    def test_a_daily_0230_handoff_on_the_autumn_night(
        self, make_state: MakeState
    ) -> None:
        """In the fold the first 02:30 counts: that shift is 25 hours long."""
        state = make_state(
            length="daily",
            start=datetime(2026, 10, 23, 2, 30),
            handoff_time=time(2, 30),
        )

        found = [h.at for h in handoffs(state, utc("2026-10-24"), utc("2026-10-27"))]

        assert [
            utc("2026-10-24T00:30"),
            utc("2026-10-25T00:30"),
            utc("2026-10-26T01:30"),
        ] == found

    def test_hourly_shift_in_a_gap_is_never_reported(
        self, make_state: MakeState
    ) -> None:
        """A 1-hour rotation loses the 02:00 shift on the spring night, nothing else."""
        state = make_state(
            ("A", "B", "C"),
            length="custom",
            custom_hours=1,
            start=datetime(2026, 3, 29, 0, 0),
        )

        segments = timeline(state, utc("2026-03-28T23:00"), utc("2026-03-29T03:00"))

        assert [timedelta(hours=1)] * 4 == [s.end - s.start for s in segments]
        assert [s.primary for s in segments] == ["A", "B", "A", "B"]


class TestAnchors:
    def test_weekly_start_moves_to_the_handoff_weekday(self) -> None:
        """A weekly rotation starting on a Thursday first hands off the next Monday."""
        rule = make_rule(
            timezone="Europe/Berlin",
            length="weekly",
            start=datetime(2026, 3, 5, 12, 0),
            handoff_time=time(9, 0),
        )

        assert datetime(2026, 3, 9, 9, 0) == rule.anchor

    def test_daily_start_after_the_time_moves_to_tomorrow(self) -> None:
        """Daily at 08:00 from 10:00 on a day starts the next morning."""
        rule = make_rule(
            timezone="UTC",
            length="daily",
            start=datetime(2026, 3, 5, 10, 0),
            handoff_time=time(8, 0),
        )

        assert datetime(2026, 3, 6, 8, 0) == rule.anchor

    def test_custom_needs_hours(self) -> None:
        """A custom rotation without a length is refused with the reason."""
        with pytest.raises(InputError, match="custom_hours"):
            make_rule(
                timezone="UTC",
                length="custom",
                start=datetime(2026, 3, 5),
                handoff_time=time(8, 0),
            )

    def test_unknown_zone(self) -> None:
        """A zone that is not IANA is an input error, not a traceback."""
        with pytest.raises(InputError, match="IANA"):
            make_rule(
                timezone="Mars/Olympus",
                length="daily",
                start=datetime(2026, 3, 5),
                handoff_time=time(8, 0),
            )


class TestActiveHours:
    def test_a_window_across_midnight_belongs_to_its_first_day(
        self, make_state: MakeState
    ) -> None:
        """Nights 22:00–06:00 on Fridays: Sat 03:00 covered, Sun 03:00 not."""
        state = make_state(
            ("A", "B"),
            length="daily",
            start=datetime(2026, 3, 2, 9, 0),
            active_days=["friday"],
            active_start=time(22, 0),
            active_end=time(6, 0),
        )

        assert on_call_at(state, parse_when("2026-03-07 03:00", BERLIN)).primary
        assert on_call_at(state, parse_when("2026-03-08 03:00", BERLIN)).primary is None
        assert on_call_at(state, parse_when("2026-03-06 21:59", BERLIN)).primary is None

    def test_weekdays_without_hours_cover_whole_days(
        self, make_state: MakeState
    ) -> None:
        """active_days alone: all of Saturday is uncovered, all of Friday covered."""
        state = make_state(active_days=["monday", "tuesday", "friday"])

        assert on_call_at(state, parse_when("2026-03-06 23:59", BERLIN)).primary
        assert on_call_at(state, parse_when("2026-03-07 00:00", BERLIN)).primary is None


class TestMemberChanges:
    def test_adding_someone_twice_is_a_conflict(self, make_state: MakeState) -> None:
        """A member is in the rotation once."""
        state = make_state()

        with pytest.raises(Conflict, match="already"):
            add_member(state.rule, state.epochs, "B", utc("2026-03-18T12:00"))

    def test_the_last_member_cannot_leave(self, make_state: MakeState) -> None:
        """Removing the only member would leave nobody; refused."""
        state = make_state(("A",))

        with pytest.raises(Conflict, match="only member"):
            remove_member(state.rule, state.epochs, "A", utc("2026-03-18T12:00"))

    def test_changes_never_go_back_in_time(self, make_state: MakeState) -> None:
        """A change dated before the last one is refused."""
        state = make_state()
        change = add_member(state.rule, state.epochs, "E", utc("2026-03-18T12:00"))
        epochs = (*state.epochs, change.epoch)

        with pytest.raises(Conflict, match="from now on"):
            remove_member(state.rule, epochs, "E", utc("2026-03-17T12:00"))

    def test_a_change_before_the_start_applies_from_the_first_shift(
        self, make_state: MakeState
    ) -> None:
        """Before the rotation starts, the new order starts with its first member."""
        state = make_state()

        change = remove_member(state.rule, state.epochs, "A", utc("2026-02-01T00:00"))

        assert state.rule.handoff(0) == change.epoch.effective_at
        assert change.epoch.members == ("B", "C", "D")


class TestParseWhen:
    def test_naive_times_are_read_in_the_zone(self) -> None:
        """2026-03-30 09:00 in Berlin is 07:00Z; an explicit offset wins."""
        assert utc("2026-03-30T07:00") == parse_when("2026-03-30 09:00", BERLIN)
        assert utc("2026-03-30T09:00") == parse_when("2026-03-30T09:00Z", BERLIN)
        assert utc("2026-03-30T08:00") == parse_when("2026-03-30T09:00+01:00", BERLIN)

    def test_a_date_is_local_midnight(self) -> None:
        """A bare date is midnight in the zone (summer time on 2026-03-30)."""
        assert utc("2026-03-29T22:00") == parse_when("2026-03-30", BERLIN)

    def test_far_years_are_refused(self) -> None:
        """Year 1 would overflow the shift arithmetic; it is refused up front."""
        with pytest.raises(InputError, match="1900"):
            parse_when("0001-01-01", BERLIN)

    def test_nonsense_is_an_input_error(self) -> None:
        """The error shows the forms that work."""
        with pytest.raises(InputError, match="2026-03-30T09:00"):
            parse_when("next tuesday", BERLIN)


class TestNextHandoff:
    def test_a_zero_length_shift_is_skipped(self, make_state: MakeState) -> None:
        """Hourly shifts: after 01:30 on the spring night the next hand-off is 03:00."""
        state = make_state(
            ("A", "B", "C"),
            length="custom",
            custom_hours=1,
            start=datetime(2026, 3, 29, 0, 0),
        )

        found = next_handoff(state, parse_when("2026-03-29 01:30", BERLIN))

        assert found.at == utc("2026-03-29T01:00")
        assert found.incoming == on_call_at(state, found.at).primary
