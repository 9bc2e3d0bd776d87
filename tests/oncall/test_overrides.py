"""Overrides: "Y covers X" and "Y is on call for the window"."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from mgops.errors import InputError
from mgops.oncall.overrides import Override, check_override
from mgops.oncall.schedule import on_call_at, shift_holder, timeline
from tests.oncall.conftest import MakeState


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class TestWindowOverride:
    def test_y_is_primary_for_the_whole_window(self, make_state: MakeState) -> None:
        """Inside the window Y is primary whoever the rotation names; not outside."""
        window = Override(1, "Y", utc("2026-03-20T10:00"), utc("2026-03-24T10:00"))
        state = make_state(overrides=[window])

        inside = [
            on_call_at(state, utc(t)) for t in ("2026-03-20T10:00", "2026-03-23T12:00")
        ]
        outside = on_call_at(state, utc("2026-03-24T10:00"))

        assert [o.primary for o in inside] == ["Y", "Y"]
        assert [o.covering for o in inside] == ["C", "D"]
        assert outside.primary == "D"

    def test_the_secondary_stays(self, make_state: MakeState) -> None:
        """The rotation's secondary stays; if that was Y, the displaced primary is."""
        plain = make_state(
            overrides=[
                Override(1, "Y", utc("2026-03-18T00:00"), utc("2026-03-19T00:00"))
            ]
        )
        by_secondary = make_state(
            overrides=[
                Override(1, "D", utc("2026-03-18T00:00"), utc("2026-03-19T00:00"))
            ]
        )

        assert on_call_at(plain, utc("2026-03-18T12:00")).secondary == "D"
        assert on_call_at(by_secondary, utc("2026-03-18T12:00")).secondary == "C"

    def test_a_window_covers_hours_nobody_else_covers(
        self, make_state: MakeState
    ) -> None:
        """Outside active hours a window override still puts Y on call."""
        state = make_state(
            active_start=time(9, 0),
            active_end=time(17, 0),
            overrides=[
                Override(1, "Y", utc("2026-03-18T20:00"), utc("2026-03-18T22:00"))
            ],
        )

        assert on_call_at(state, utc("2026-03-18T21:00")).primary == "Y"
        assert on_call_at(state, utc("2026-03-18T23:00")).primary is None


class TestCovers:
    def test_covering_the_secondary(self, make_state: MakeState) -> None:
        """Y covering X while X is secondary makes Y the secondary."""
        state = make_state(
            overrides=[
                Override(1, "Y", utc("2026-03-16T00:00"), utc("2026-03-30T00:00"), "D")
            ]
        )

        found = on_call_at(state, utc("2026-03-18T12:00"))

        assert (found.primary, found.secondary) == ("C", "Y")
        assert not found.via_override

    def test_covers_someone_not_on_call_changes_nothing(
        self, make_state: MakeState
    ) -> None:
        """Y covers B during C's week: the week is C's and D's as before."""
        state = make_state(
            overrides=[
                Override(1, "Y", utc("2026-03-17T00:00"), utc("2026-03-19T00:00"), "B")
            ]
        )

        segments = timeline(state, utc("2026-03-17T00:00"), utc("2026-03-19T00:00"))

        assert [(s.primary, s.secondary) for s in segments] == [("C", "D")]

    def test_the_newest_override_wins(self, make_state: MakeState) -> None:
        """Two overrides on one stretch: the one created last applies on top."""
        state = make_state(
            overrides=[
                Override(2, "Z", utc("2026-03-18T00:00"), utc("2026-03-19T00:00"), "Y"),
                Override(1, "Y", utc("2026-03-18T00:00"), utc("2026-03-19T00:00"), "C"),
            ]
        )

        found = on_call_at(state, utc("2026-03-18T12:00"))

        assert (found.primary, found.override_id, found.covering) == ("Z", 2, "Y")

    def test_the_incoming_of_a_covered_shift(self, make_state: MakeState) -> None:
        """Y covering D's whole week is the incoming engineer at that hand-off."""
        state = make_state(
            overrides=[
                Override(1, "Y", utc("2026-03-22T00:00"), utc("2026-03-31T00:00"), "D")
            ]
        )

        assert shift_holder(state, 3, as_of=utc("2026-03-18T12:00")) == "Y"


class TestChecks:
    def test_backwards_window_is_refused(self) -> None:
        """An override that ends before it starts says so."""
        with pytest.raises(InputError, match="swap"):
            check_override(
                Override(None, "Y", utc("2026-03-19T00:00"), utc("2026-03-18T00:00"))
            )

    def test_nobody_covers_themselves(self) -> None:
        """Y covers Y is refused."""
        with pytest.raises(InputError, match="themselves"):
            check_override(
                Override(
                    None, "Y", utc("2026-03-18T00:00"), utc("2026-03-19T00:00"), "Y"
                )
            )
