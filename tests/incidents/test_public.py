"""The public status page's rules: which incidents show, service states, history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from mgops.clock import ManualClock
from mgops.incidents.desk import LocalDesk
from mgops.incidents.lifecycle import DeskEnv
from mgops.incidents.preview import preview_status_update
from mgops.incidents.public import PublicStatus, public_status
from mgops.incidents.requests import ResolveRequest
from mgops.incidents.views import IncidentView
from mgops.policy import Policy
from mgops.store.db import Store


def status(store: Store, policy: Policy, clock: ManualClock) -> PublicStatus:
    with store.session() as session:
        return public_status(session, policy, now=clock.now())


def states(view: PublicStatus) -> dict[str, str]:
    return {s.name: s.state for s in view.services if s.state != "operational"}


class TestPublicStatus:
    def test_severity_rules(
        self,
        store: Store,
        policy: Policy,
        clock: ManualClock,
        make_incident: Callable[..., IncidentView],
    ) -> None:
        """P1/P2 always show, P3 only when customer-facing, P4 never."""
        make_incident(title="p2", severity="P2", services=["search-service"])
        make_incident(title="p3 internal", severity="P3")
        make_incident(title="p3 public", severity="P3", customer_facing=True)
        make_incident(title="p4", severity="P4", customer_facing=True)

        view = status(store, policy, clock)

        assert ["p2", "p3 public"] == sorted(i.title for i in view.active)

    def test_worst_incident_sets_the_service_state(
        self,
        store: Store,
        policy: Policy,
        clock: ManualClock,
        make_incident: Callable[..., IncidentView],
    ) -> None:
        """A P1 beats a P2 on the same service; others stay operational."""
        make_incident(severity="P2", services=["api-gateway", "auth-service"])
        make_incident(severity="P1", services=["api-gateway"])

        view = status(store, policy, clock)

        expected = {"api-gateway": "major-outage", "auth-service": "partial-outage"}
        assert expected == states(view)
        assert "major-outage" == view.overall

    def test_resolved_moves_to_history_for_two_weeks(
        self,
        store: Store,
        policy: Policy,
        clock: ManualClock,
        desk: LocalDesk,
        make_incident: Callable[..., IncidentView],
    ) -> None:
        """Resolving empties the active list; after 14 days history forgets it."""
        view = make_incident()
        desk.resolve(view.id, ResolveRequest(force=True))

        soon = status(store, policy, clock)
        clock.advance(timedelta(days=15))
        later = status(store, policy, clock)

        assert ([], [view.title], "operational") == (
            soon.active,
            [i.title for i in soon.history],
            soon.overall,
        )
        assert [] == later.history


class TestPreview:
    def test_preview_renders_without_storing(
        self,
        store: Store,
        policy: Policy,
        clock: ManualClock,
        desk: LocalDesk,
        make_incident: Callable[..., IncidentView],
    ) -> None:
        """The preview uses the policy template and the cadence; nothing is saved."""
        view = make_incident()
        with store.session() as session:
            env = DeskEnv(session, policy, clock, "alice")
            comms = preview_status_update(
                env,
                view.id,
                state="identified",
                what_we_know="Edge 503s",
                what_we_are_doing="Draining",
            )

        assert "Identified" in comms.text and "Edge 503s" in comms.text
        assert (clock.now() + timedelta(minutes=15)).strftime("%H:%M") in comms.text
        assert [] == desk.show(view.id).updates
