"""Factories for intake tests: integrations, Alertmanager payloads, API clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mgops.access import create_integration, create_token
from mgops.clock import ManualClock
from mgops.policy import Policy
from mgops.store.db import Store
from mgops.web.app import create_app


def am_alert(name: str, status: str, fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} on api-gateway"},
        "startsAt": "2026-03-02T09:58:26.739266876+01:00",
        "endsAt": "2026-03-02T10:00:00Z"
        if status == "resolved"
        else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.invalid/graph",
        "fingerprint": fingerprint,
    }


def am_payload(
    status: str,
    alerts: list[dict[str, Any]],
    *,
    truncated: int = 0,
    group_key: str = '{}:{alertname="HighErrorRate"}',
) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
        "status": status,
        "receiver": "mgops",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {
            "alertname": "HighErrorRate",
            "severity": "critical",
            "service": "api-gateway",
        },
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid",
        "alerts": alerts,
    }


class Api:
    """A test client with a responder token and both integration keys."""

    def __init__(self, client: TestClient, token: str, am_key: str, ev_key: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.am_key = am_key
        self.ev_key = ev_key

    def alertmanager(self, payload: dict[str, Any]) -> Any:
        return self.client.post(
            f"/api/v1/integrations/alertmanager/{self.am_key}", json=payload
        )

    def event(self, **fields: Any) -> Any:
        return self.client.post(
            "/v2/enqueue", json={"routing_key": self.ev_key, **fields}
        )

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, headers=self.headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def seed_keys(store: Store, clock: ManualClock) -> tuple[str, str, str]:
    with store.session() as session:
        _, token = create_token(session, name="ops", role="responder", now=clock.now())
        _, am = create_integration(
            session, name="am", kind="alertmanager", now=clock.now()
        )
        _, ev = create_integration(
            session, name="ev", kind="events-v2", now=clock.now()
        )
    return token, am, ev


@pytest.fixture
def api(store: Store, policy: Policy, clock: ManualClock) -> Iterator[Api]:
    token, am, ev = seed_keys(store, clock)
    app = create_app(store, policy, clock=clock, events_per_minute=0)
    with TestClient(app) as client:
        yield Api(client, token, am, ev)
