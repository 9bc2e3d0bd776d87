"""Factories for desk tests: a desk on a temp store with a manual clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mgops.clock import ManualClock
from mgops.incidents.desk import LocalDesk
from mgops.incidents.requests import DeclareRequest
from mgops.incidents.views import IncidentView
from mgops.policy import Policy
from mgops.store.db import Store


@pytest.fixture
def desk(store: Store, policy: Policy, clock: ManualClock) -> LocalDesk:
    return LocalDesk(store, policy, clock, "alice")


@pytest.fixture
def make_incident(desk: LocalDesk) -> Callable[..., IncidentView]:
    def make(**overrides: Any) -> IncidentView:
        fields: dict[str, Any] = {
            "title": "API Gateway returning 502",
            "severity": "P1",
            "impact": "Playback fails",
            "services": ["api-gateway"],
            "page": False,
        }
        fields.update(overrides)
        return desk.declare(DeclareRequest(**fields))

    return make


def tick_all(desk: LocalDesk, incident_id: int) -> IncidentView:
    from mgops.incidents.requests import TickRequest

    view = desk.show(incident_id)
    for item in view.checklist.items:
        view = desk.tick(incident_id, item.id, TickRequest())
    return view
