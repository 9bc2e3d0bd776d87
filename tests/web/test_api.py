"""The REST API: roles, errors as sentences, the same desk as the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mgops.access import create_token
from mgops.clock import ManualClock
from mgops.policy import Policy
from mgops.store.db import Store
from mgops.web.app import create_app


@pytest.fixture
def client(store: Store, policy: Policy, clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(create_app(store, policy, clock=clock)) as test_client:
        yield test_client


@pytest.fixture
def tokens(store: Store, clock: ManualClock) -> dict[str, dict[str, str]]:
    found = {}
    with store.session() as session:
        for role in ("viewer", "responder", "admin"):
            _, secret = create_token(session, name=role, role=role, now=clock.now())
            found[role] = {"Authorization": f"Bearer {secret}"}
    return found


DECLARE = {
    "title": "Search returning wrong results",
    "severity": "P2",
    "services": ["search-service"],
}


class TestAccess:
    def test_no_token_is_401(self, client: TestClient) -> None:
        """Every API route needs a token."""
        response = client.get("/api/v1/incidents")

        assert 401 == response.status_code
        assert "unauthorized" == response.json()["error"]

    def test_viewer_reads_but_cannot_change(
        self, client: TestClient, tokens: dict[str, dict[str, str]]
    ) -> None:
        """A viewer lists incidents and is refused a declaration."""
        listed = client.get("/api/v1/incidents", headers=tokens["viewer"])
        refused = client.post(
            "/api/v1/incidents", json=DECLARE, headers=tokens["viewer"]
        )

        assert 200 == listed.status_code
        assert 403 == refused.status_code
        assert "needs the responder role" in refused.json()["message"]

    def test_only_admin_creates_tokens(
        self, client: TestClient, tokens: dict[str, dict[str, str]]
    ) -> None:
        """Responders cannot mint tokens; admins can, and see the secret once."""
        body = {"name": "ci", "role": "viewer"}
        refused = client.post("/api/v1/tokens", json=body, headers=tokens["responder"])
        made = client.post("/api/v1/tokens", json=body, headers=tokens["admin"])
        listed = client.get("/api/v1/tokens", headers=tokens["admin"]).json()

        assert 403 == refused.status_code
        assert made.json()["token"].startswith("mgops_")
        assert all("token" not in t for t in listed)

    def test_revoked_token_is_refused(
        self, client: TestClient, tokens: dict[str, dict[str, str]]
    ) -> None:
        """A revoked token stops working at once."""
        made = client.post(
            "/api/v1/tokens",
            json={"name": "t", "role": "viewer"},
            headers=tokens["admin"],
        ).json()
        client.delete(f"/api/v1/tokens/{made['id']}", headers=tokens["admin"])

        response = client.get(
            "/api/v1/incidents", headers={"Authorization": f"Bearer {made['token']}"}
        )

        assert 401 == response.status_code


class TestIncidentRoutes:
    def test_flow_over_http(
        self, client: TestClient, tokens: dict[str, dict[str, str]]
    ) -> None:
        """Declare, tick, force on, update, render: the desk over HTTP."""
        h = tokens["responder"]
        made = client.post("/api/v1/incidents", json=DECLARE, headers=h)
        number = made.json()["id"]
        ticked = client.post(
            f"/api/v1/incidents/{number}/checklist/understand-alert", headers=h
        )
        blocked = client.post(f"/api/v1/incidents/{number}/phase", json={}, headers=h)
        forced = client.post(
            f"/api/v1/incidents/{number}/phase", json={"force": True}, headers=h
        )
        update = client.post(
            f"/api/v1/incidents/{number}/updates",
            headers=h,
            json={
                "state": "Investigating",
                "what_we_know": "index stale",
                "what_we_are_doing": "reindexing",
            },
        )
        comms = client.get(f"/api/v1/incidents/{number}/comms/status-update", headers=h)

        assert 201 == made.status_code
        assert ticked.json()["checklist"]["items"][0]["ticked"]
        assert (409, "checklist_incomplete") == (
            blocked.status_code,
            blocked.json()["error"],
        )
        assert "TRIAGE" == forced.json()["phase"]
        assert 201 == update.status_code
        assert "*What we know:* index stale" in comms.json()["text"]

    def test_bad_input_names_the_field(
        self, client: TestClient, tokens: dict[str, dict[str, str]]
    ) -> None:
        """Validation errors are sentences naming the field, never tracebacks."""
        response = client.post(
            "/api/v1/incidents",
            headers=tokens["responder"],
            json={**DECLARE, "severity": "P9"},
        )

        assert 422 == response.status_code
        assert "severity" in response.json()["message"]

    def test_missing_incident_is_404(
        self, client: TestClient, tokens: dict[str, dict[str, str]]
    ) -> None:
        """Unknown ids are 404 with a sentence."""
        response = client.get("/api/v1/incidents/42", headers=tokens["viewer"])

        assert (404, "Incident 42 does not exist.") == (
            response.status_code,
            response.json()["message"],
        )


class TestSystem:
    def test_health_and_metrics(self, client: TestClient) -> None:
        """/health answers and /metrics speaks the Prometheus text format."""
        client.get("/health")

        metrics = client.get("/metrics")

        assert "mgops_http_request_duration_seconds_bucket" in metrics.text
        assert metrics.headers["content-type"].startswith("text/plain")

    def test_openapi_lists_the_intake(self, client: TestClient) -> None:
        """The OpenAPI document names both intake endpoints."""
        paths = client.get("/openapi.json").json()["paths"]

        assert "/v2/enqueue" in paths
        assert "/api/v1/integrations/alertmanager/{key}" in paths


class TestTimes:
    def test_started_at_is_rfc3339_text(
        self, client: TestClient, tokens: dict[str, dict[str, str]]
    ) -> None:
        """A start time is RFC 3339 text with any offset; a bare number is refused."""
        h = tokens["responder"]
        made = client.post(
            "/api/v1/incidents",
            headers=h,
            json={**DECLARE, "started_at": "2026-03-02T10:30:00+01:00"},
        )
        refused = client.post(
            "/api/v1/incidents", headers=h, json={**DECLARE, "started_at": 0}
        )

        assert 201 == made.status_code, made.text
        assert "2026-03-02T09:30:00Z" == made.json()["started_at"]
        assert 422 == refused.status_code


class TestRequestLog:
    def test_request_id_is_echoed_or_made_and_the_request_logged(
        self,
        client: TestClient,
        tokens: dict[str, dict[str, str]],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """One log line per request with route, status and id; the id is returned."""
        with caplog.at_level("INFO", logger="mgops.http"):
            given = client.get(
                "/api/v1/incidents/999",
                headers={**tokens["viewer"], "X-Request-Id": "req-from-proxy"},
            )
            made = client.get("/api/v1/incidents", headers=tokens["viewer"])

        lines = [r for r in caplog.records if r.name == "mgops.http"]
        assert "req-from-proxy" == given.headers["x-request-id"]
        assert 16 == len(made.headers["x-request-id"])
        assert [
            ("GET", "/api/v1/incidents/{incident_id}", 404, "req-from-proxy"),
            ("GET", "/api/v1/incidents", 200, made.headers["x-request-id"]),
        ] == [
            (r.method, r.getMessage().split()[1], r.status, r.requestId) for r in lines
        ]

    def test_oversized_webhook_is_413_before_it_is_read(
        self, client: TestClient
    ) -> None:
        """A webhook declaring more than 4 MiB is refused from its header."""
        response = client.post(
            "/api/v1/integrations/alertmanager/some-key",
            content=b"{}",
            headers={
                "Content-Length": str(5 * 1024 * 1024),
                "Content-Type": "application/json",
            },
        )

        assert 413 == response.status_code
        assert "too_large" == response.json()["error"]
