"""Communications rendered from the policy's templates, and the post-mortem draft."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from mgops.clock import ManualClock
from mgops.errors import Conflict, PolicyError
from mgops.incidents.comms import human_duration
from mgops.incidents.desk import LocalDesk
from mgops.incidents.requests import (
    NoteRequest,
    OwnerRequest,
    PhaseRequest,
    ResolveRequest,
    StatusUpdateRequest,
)
from mgops.incidents.views import IncidentView
from mgops.policy import load_policy_text
from mgops.policy.load import default_policy_text
from tests.incidents.conftest import tick_all

MakeIncident = Callable[..., IncidentView]


def resolved_incident(
    desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
) -> IncidentView:
    view = make_incident(customer_facing=True, impact="video playback failures")
    desk.assign(view.id, OwnerRequest(owner="bob"))
    desk.post_update(
        view.id,
        StatusUpdateRequest(
            state="Identified",
            what_we_know="bad deploy",
            what_we_are_doing="rolling back",
        ),
    )
    desk.note(view.id, NoteRequest(text="Add a canary stage", action_item=True))
    desk.move(view.id, PhaseRequest(to="RESOLVE", force=True))
    tick_all(desk, view.id)
    clock.advance(timedelta(hours=1, minutes=5))
    return desk.resolve(
        view.id, ResolveRequest(root_cause="A bad deploy", resolution="Rolled back")
    )


class TestTemplates:
    def test_declaration(self, desk: LocalDesk, make_incident: MakeIncident) -> None:
        """The declaration carries severity, time, description, owner and channel."""
        view = make_incident(owner="bob")

        text = desk.comms(view.id, "declaration").text

        assert "INCIDENT DECLARED* - P1" in text
        assert "*Time:* 10:00 UTC" in text
        assert "*Owner:* @bob" in text
        assert f"#{view.channel}" in text

    def test_status_update_needs_an_update(
        self, desk: LocalDesk, make_incident: MakeIncident
    ) -> None:
        """Rendering the status update before any update says what to do."""
        view = make_incident()

        with pytest.raises(Conflict, match="post one first"):
            desk.comms(view.id, "status-update")

    def test_resolved_has_the_real_duration(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """The resolved message states the duration from start to resolution."""
        view = resolved_incident(desk, make_incident, clock)

        text = desk.comms(view.id, "resolved").text

        assert "*Duration:* 1 hour 5 minutes" in text
        assert "*Root Cause:* A bad deploy" in text

    def test_customer_email(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """The customer email names the service, the window and the impact."""
        view = resolved_incident(desk, make_incident, clock)

        mail = desk.comms(view.id, "customer-email")

        assert mail.subject == "Media Gateway Service Update"
        assert "issue with API Gateway between 2026-03-02 10:00 and " in mail.text
        assert "experienced video playback failures" in mail.text

    def test_human_duration(self) -> None:
        """Durations read as the runbook writes them."""
        assert human_duration(timedelta(minutes=121)) == "2 hours 1 minute"
        assert human_duration(timedelta(seconds=10)) == "0 minutes"

    def test_broken_template_is_a_policy_error(self) -> None:
        """A policy with a template that does not parse is refused at load."""
        text = default_policy_text().replace(
            "*Owner:* @{{ incident.owner", "*Owner:* @{{ incident.owner }", 1
        )

        with pytest.raises(PolicyError, match=r"templates\.declaration"):
            load_policy_text(text, source="p.yaml")


class TestPostmortem:
    def test_only_at_review(self, desk: LocalDesk, make_incident: MakeIncident) -> None:
        """Before REVIEW there is no draft."""
        view = make_incident()

        with pytest.raises(Conflict, match="written at REVIEW"):
            desk.postmortem(view.id)

    def test_draft_from_the_record(
        self, desk: LocalDesk, make_incident: MakeIncident, clock: ManualClock
    ) -> None:
        """The draft holds the timeline, duration, root cause and action items."""
        view = resolved_incident(desk, make_incident, clock)

        text = desk.postmortem(view.id).markdown

        assert text.startswith("# Post-mortem: API Gateway returning 502")
        assert "| Duration | 1 hour 5 minutes |" in text
        assert "A bad deploy" in text
        assert "- [ ] Add a canary stage (raised by alice)" in text
        assert "Owner set to bob" in text
        assert "## Checklist exceptions" in text
