"""SLA clocks from the severity: response, resolution and the update cadence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from mgops.clock import ManualClock
from mgops.errors import Conflict, InputError
from mgops.incidents.desk import LocalDesk
from mgops.incidents.requests import PhaseRequest, StatusUpdateRequest
from mgops.incidents.targets import due_at, is_business_hours
from mgops.incidents.views import IncidentView
from mgops.policy import Policy

MakeIncident = Callable[..., IncidentView]


def clock_named(view: IncidentView, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in view.clocks if c.name == name)


def update(**kw: object) -> StatusUpdateRequest:
    fields: dict[str, object] = {
        "state": "Investigating",
        "what_we_know": "502s",
        "what_we_are_doing": "checking pods",
    }
    fields.update(kw)
    return StatusUpdateRequest(**fields)  # type: ignore[arg-type]


class TestTargets:
    def test_p1_due_times(
        self, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """P1: respond in 15 minutes, resolve in 1 hour, update every 15."""
        view = make_incident(severity="P1")

        start = clock.now()
        assert start + timedelta(minutes=15) == clock_named(view, "response").due_at
        assert start + timedelta(hours=1) == clock_named(view, "resolution").due_at
        assert start + timedelta(minutes=15) == clock_named(view, "next-update").due_at

    def test_p3_has_no_update_cadence(self, make_incident: MakeIncident) -> None:
        """P3 has no status-page cadence."""
        view = make_incident(severity="P3")

        assert clock_named(view, "next-update").state == "not-applicable"

    def test_overdue_shows_how_late(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """Past the due time the clock says overdue and by how much."""
        view = make_incident(severity="P1")
        clock.advance(timedelta(minutes=20))

        response = clock_named(desk.show(view.id), "response")

        assert response.state == "overdue"
        assert response.seconds_left == -300
        assert "overdue by 5m 00s" in response.text

    def test_next_business_day(self, policy: Policy) -> None:
        """P4 response: close of the next business day (Friday → Monday 17:00)."""
        friday = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)

        assert datetime(2026, 3, 9, 17, 0, tzinfo=UTC) == due_at(
            "next-business-day", friday, policy
        )

    def test_next_sprint(self, policy: Policy) -> None:
        """P4 resolution: the end of the sprint after the current one."""
        # Sprints start 2026-01-05 and last 14 days: 01-19, 02-02, 02-16, 03-02 …
        during = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)

        assert datetime(2026, 3, 16, tzinfo=UTC) == due_at(
            "next-sprint", during, policy
        )

    def test_business_hours(self, policy: Policy) -> None:
        """Business hours: weekdays 09:00–17:00 in the policy's zone."""
        assert is_business_hours(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), policy)
        assert not is_business_hours(datetime(2026, 3, 2, 17, 0, tzinfo=UTC), policy)
        assert not is_business_hours(datetime(2026, 3, 7, 12, 0, tzinfo=UTC), policy)


class TestStatusUpdates:
    def test_update_resets_the_clock(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """Posting an update restarts the cadence from the update."""
        view = make_incident(severity="P2")
        clock.advance(timedelta(minutes=25))

        desk.post_update(view.id, update())

        after = clock_named(desk.show(view.id), "next-update")
        assert clock.now() + timedelta(minutes=30) == after.due_at
        assert after.state == "pending"

    def test_next_update_may_be_sooner_not_later(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """A P1's next update can be promised sooner than 15 minutes, never later."""
        view = make_incident(severity="P1")

        posted = desk.post_update(view.id, update(next_update_in_minutes=10))

        assert clock.now() + timedelta(minutes=10) == posted.next_update_at
        with pytest.raises(InputError, match="at least every 15 minutes"):
            desk.post_update(view.id, update(next_update_in_minutes=20))

    def test_resolved_update_needs_no_next(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """Resolved belongs to RESOLVE or later, and promises no further update."""
        view = make_incident()
        early = pytest.raises(Conflict, match="belongs to RESOLVE or later")
        with early:
            desk.post_update(view.id, update(state="Resolved"))
        desk.move(view.id, PhaseRequest(to="RESOLVE", force=True))

        posted = desk.post_update(view.id, update(state="Resolved"))

        assert posted.next_update_at is None
