"""Factories for on-call tests: rotation rules and states built from words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time

import pytest

from mgops.oncall.overrides import Override
from mgops.oncall.rotation import initial_epoch, make_rule
from mgops.oncall.schedule import ScheduleState

MakeState = Callable[..., ScheduleState]


def build_state(
    members: Sequence[str] = ("A", "B", "C", "D"),
    *,
    zone: str = "Europe/Berlin",
    length: str = "weekly",
    start: datetime = datetime(2026, 3, 2, 9, 0),
    handoff_time: time = time(9, 0),
    weekday: str = "monday",
    custom_hours: int | None = None,
    active_days: Sequence[str] | None = None,
    active_start: time | None = None,
    active_end: time | None = None,
    overrides: Sequence[Override] = (),
    name: str = "r4",
) -> ScheduleState:
    rule = make_rule(
        timezone=zone,
        length=length,
        start=start,
        handoff_time=handoff_time,
        handoff_weekday=weekday,
        custom_hours=custom_hours,
        active_days=active_days,
        active_start=active_start,
        active_end=active_end,
    )
    epochs = (initial_epoch(rule, members),)
    return ScheduleState(name, rule, epochs, tuple(overrides))


@pytest.fixture
def make_state() -> MakeState:
    """``make_state(length="daily", zone="Europe/Paris", ...)``; R4 by default."""
    return build_state
