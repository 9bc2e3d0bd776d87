"""The workflow: phases in order, checklists guard exits, the timeline records all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from mgops.clock import ManualClock
from mgops.errors import ChecklistIncomplete, Conflict, InputError, NotFound
from mgops.incidents.desk import LocalDesk
from mgops.incidents.requests import (
    CloseRequest,
    NoteRequest,
    OwnerRequest,
    PhaseRequest,
    ResolveRequest,
    SeverityRequest,
    TickRequest,
)
from mgops.incidents.views import IncidentView
from tests.incidents.conftest import tick_all

MakeIncident = Callable[..., IncidentView]


class TestDeclare:
    def test_starts_in_detect_with_a_channel(self, make_incident: MakeIncident) -> None:
        """A new incident is in DETECT, with the runbook's channel name."""
        view = make_incident(title="Auth failing for all users!")

        assert view.phase == "DETECT"
        assert view.channel == "inc-20260302-auth-failing-for-all-users"
        assert [e.kind for e in view.timeline] == ["declared"]

    def test_unknown_service_is_refused(self, make_incident: MakeIncident) -> None:
        """Affected services must be ones the policy knows."""
        with pytest.raises(InputError, match="Unknown service 'billing'"):
            make_incident(services=["billing"])

    def test_customer_facing_item_is_required_only_then(
        self, make_incident: MakeIncident
    ) -> None:
        """'Update status page if customer-facing' binds only customer-facing ones."""
        internal = make_incident(customer_facing=False)
        public = make_incident(customer_facing=True)

        item = "status-page-if-customer-facing"
        assert not next(i for i in internal.checklist.items if i.id == item).required
        assert next(i for i in public.checklist.items if i.id == item).required


class TestPhases:
    def test_open_items_block_the_exit(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """Leaving a phase with unticked items needs force."""
        view = make_incident()
        desk.tick(view.id, "understand-alert", TickRequest())

        with pytest.raises(ChecklistIncomplete, match="unticked") as err:
            desk.move(view.id, PhaseRequest())

        assert "not-false-positive" in err.value.message
        assert desk.show(view.id).phase == "DETECT"

    def test_forced_exit_is_recorded_with_what_was_open(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """A forced move writes what it left open to the timeline."""
        view = make_incident()

        moved = desk.move(view.id, PhaseRequest(force=True, reason="obvious outage"))

        entry = moved.timeline[-1]
        assert moved.phase == "TRIAGE"
        assert entry.kind == "phase-forced"
        assert "understand-alert" in entry.message
        assert "obvious outage" in entry.message

    def test_ticked_phase_moves_without_force(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """With every required item ticked, the next phase follows."""
        view = make_incident()
        tick_all(desk, view.id)

        moved = desk.move(view.id, PhaseRequest())

        assert moved.phase == "TRIAGE"
        assert moved.timeline[-1].kind == "phase-changed"

    def test_skipping_needs_force(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """Jumping over a phase is refused unless forced."""
        view = make_incident()
        tick_all(desk, view.id)

        with pytest.raises(ChecklistIncomplete, match="skips TRIAGE, RESPOND"):
            desk.move(view.id, PhaseRequest(to="RESOLVE"))

    def test_phases_never_go_back(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """A phase once left is not re-entered."""
        view = make_incident()
        desk.move(view.id, PhaseRequest(force=True))

        with pytest.raises(Conflict, match="only move forward"):
            desk.move(view.id, PhaseRequest(to="DETECT", force=True))

    def test_ticking_an_item_of_another_phase_is_refused(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """Items are ticked on the current phase's checklist only."""
        view = make_incident()

        with pytest.raises(InputError, match="not on the DETECT checklist"):
            desk.tick(view.id, "fix-deployed", TickRequest())

    def test_tick_records_who_and_when(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """A tick carries the actor and the instant."""
        view = make_incident()
        clock.advance(timedelta(minutes=3))

        ticked = desk.tick(view.id, "understand-alert", TickRequest())

        item = next(i for i in ticked.checklist.items if i.id == "understand-alert")
        assert ("alice", clock.now()) == (item.ticked_by, item.ticked_at)

    def test_timestamps_never_go_backwards(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """A clock stepped back does not stamp an earlier change later."""
        view = make_incident()
        clock.advance(timedelta(minutes=10))
        desk.assign(view.id, OwnerRequest(owner="bob"))
        clock.advance(timedelta(minutes=-30))

        later = desk.note(view.id, NoteRequest(text="clock went back"))

        stamps = [e.at for e in later.timeline]
        assert stamps == sorted(stamps)


class TestOwnershipAndSeverity:
    def test_owner_stops_the_response_clock(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """Taking ownership is the response."""
        view = make_incident()
        clock.advance(timedelta(minutes=5))

        owned = desk.assign(view.id, OwnerRequest(owner="@bob"))

        response = next(c for c in owned.clocks if c.name == "response")
        assert owned.owner == "bob"
        assert response.state == "met"

    def test_severity_change_is_recorded_with_reason(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """Re-grading writes old, new and why."""
        view = make_incident(severity="P2")

        regraded = desk.set_severity(
            view.id, SeverityRequest(severity="P1", reason="all users now")
        )

        entry = regraded.timeline[-1]
        assert regraded.severity == "P1"
        assert (
            entry.data["previous"],
            entry.data["severity"],
            entry.data["reason"],
        ) == ("P2", "P1", "all users now")

    def test_missing_incident_is_not_found(self, desk: LocalDesk) -> None:
        """Asking for an incident that does not exist says so."""
        with pytest.raises(NotFound, match="Incident 99 does not exist"):
            desk.show(99)


class TestResolveAndClose:
    def test_resolve_only_from_resolve_phase(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """Resolving from RESPOND is refused without force."""
        view = make_incident()
        desk.move(view.id, PhaseRequest(to="RESPOND", force=True))

        with pytest.raises(Conflict, match="is in RESPOND"):
            desk.resolve(view.id, ResolveRequest())

    def test_resolve_enters_review_and_stops_the_clock(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """RESOLVE → REVIEW stamps the resolution; the incident is no longer open."""
        view = make_incident()
        desk.move(view.id, PhaseRequest(to="RESOLVE", force=True))
        tick_all(desk, view.id)
        clock.advance(timedelta(minutes=40))

        done = desk.resolve(view.id, ResolveRequest(root_cause="bad config"))

        assert ("REVIEW", clock.now(), False) == (
            done.phase,
            done.resolved_at,
            done.open,
        )
        assert done.root_cause == "bad config"
        assert desk.list(open_only=True) == []

    def test_close_needs_the_review_checklist(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """Closing with an open REVIEW checklist needs force."""
        view = make_incident()
        desk.move(view.id, PhaseRequest(to="RESOLVE", force=True))
        desk.resolve(view.id, ResolveRequest(force=True))

        with pytest.raises(ChecklistIncomplete):
            desk.close(view.id, CloseRequest())
        tick_all(desk, view.id)
        closed = desk.close(view.id, CloseRequest())

        assert closed.closed_at is not None


class TestListing:
    def test_filters(self, desk: LocalDesk, make_incident: MakeIncident) -> None:
        """List filters by severity, phase and open."""
        first = make_incident(severity="P1")
        make_incident(severity="P3")
        desk.move(first.id, PhaseRequest(force=True))

        assert [first.id] == [i.id for i in desk.list(severity="P1")]
        assert [first.id] == [i.id for i in desk.list(phase="TRIAGE")]
        assert len(desk.list(open_only=True)) == 2
