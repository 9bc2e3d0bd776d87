"""Console routes without a browser: sessions, CSRF, roles, the public status page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mgops.access import create_token, revoke_token
from mgops.clock import ManualClock
from mgops.incidents.desk import LocalDesk
from mgops.incidents.requests import DeclareRequest, StatusUpdateRequest
from mgops.policy import Policy
from mgops.store.db import Store
from mgops.web.app import create_app
from mgops.web.console import install_console
from mgops.web.console.session import COOKIE, SessionSigner

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def app(store: Store, policy: Policy, clock: ManualClock) -> Any:
    return create_app(store, policy, clock=clock)


@pytest.fixture
def tokens(store: Store, clock: ManualClock) -> dict[str, str]:
    found = {}
    with store.session() as session:
        for role in ("viewer", "responder"):
            _, found[role] = create_token(
                session, name=role, role=role, now=clock.now()
            )
    return found


@pytest.fixture
def make_client(app: Any, tokens: dict[str, str]) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(role: str | None = None) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        if role is not None:
            nonce = CSRF.search(client.get("/login").text)
            assert nonce is not None
            answer = client.post(
                "/login",
                data={"token": tokens[role], "csrf": nonce[1], "next": "/"},
                follow_redirects=False,
            )
            assert 303 == answer.status_code
        return client

    yield make
    for client in clients:
        client.close()


def csrf_of(client: TestClient, path: str = "/") -> str:
    found = CSRF.search(client.get(path).text)
    assert found is not None
    return found[1]


def declare(
    store: Store, policy: Policy, clock: ManualClock, **fields: Any
) -> LocalDesk:
    desk = LocalDesk(store, policy, clock, "ann")
    desk.declare(
        DeclareRequest(**{"title": "Playback down", "severity": "P1", **fields})
    )
    return desk


class TestSignIn:
    def test_pages_send_strangers_to_sign_in(self, make_client: Any) -> None:
        """Without a session every console page redirects to /login."""
        answer = make_client().get("/incidents/1", follow_redirects=False)

        assert 303 == answer.status_code
        assert "/login?next=/incidents/1" == answer.headers["location"]

    def test_unknown_token_is_refused(self, make_client: Any) -> None:
        """A wrong token gets the form again with a sentence, and no cookie."""
        client = make_client()
        nonce = csrf_of(client, "/login")
        answer = client.post("/login", data={"token": "mgops_nope", "csrf": nonce})

        assert 401 == answer.status_code
        assert "unknown or revoked" in answer.text
        assert COOKIE not in client.cookies

    def test_sign_in_form_needs_its_nonce(
        self, make_client: Any, tokens: dict[str, str]
    ) -> None:
        """A sign-in posted from elsewhere (no matching nonce) is refused."""
        client = make_client()
        client.get("/login")
        answer = client.post("/login", data={"token": tokens["responder"]})

        assert 403 == answer.status_code
        assert COOKIE not in client.cookies

    def test_next_never_leaves_the_server(
        self, make_client: Any, tokens: dict[str, str]
    ) -> None:
        """``next=//evil.example`` lands on the board instead."""
        client = make_client()
        nonce = csrf_of(client, "/login")
        answer = client.post(
            "/login",
            data={"token": tokens["viewer"], "csrf": nonce, "next": "//evil.example"},
            follow_redirects=False,
        )

        assert "/" == answer.headers["location"]

    def test_tampered_cookie_is_ignored(self, make_client: Any) -> None:
        """Changing the token id inside the cookie breaks its signature."""
        client = make_client("viewer")
        _, _, mac = client.cookies[COOKIE].partition(".")
        forged = SessionSigner("not-the-secret").dump(1)
        client.cookies.set(COOKIE, forged.partition(".")[0] + "." + mac)

        assert 303 == client.get("/", follow_redirects=False).status_code

    def test_revoking_the_token_ends_the_session(
        self, make_client: Any, store: Store, clock: ManualClock
    ) -> None:
        """The cookie names the token; a revoked token signs nobody in."""
        client = make_client("responder")
        assert 200 == client.get("/").status_code
        with store.session() as session:
            revoke_token(session, 2, now=clock.now())

        assert 303 == client.get("/", follow_redirects=False).status_code


class TestCsrf:
    def test_form_without_token_is_refused(
        self, make_client: Any, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """A responder's own session cannot post without the form's token."""
        declare(store, policy, clock)
        client = make_client("responder")
        answer = client.post("/incidents/1/checklist/understand-alert", data={})

        assert 403 == answer.status_code
        assert "security token" in answer.text
        items = LocalDesk(store, policy, clock, "x").show(1).checklist.items
        assert [] == [i.id for i in items if i.ticked]

    def test_form_with_token_changes(
        self, make_client: Any, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """The same post with the token ticks the item."""
        declare(store, policy, clock)
        client = make_client("responder")
        token = csrf_of(client, "/incidents/1")
        answer = client.post(
            "/incidents/1/checklist/understand-alert",
            data={"csrf": token, "ticked": "true"},
            headers={"accept": "application/json"},
        )

        assert {"ok": True, "message": "understand-alert ticked."} == answer.json()
        items = LocalDesk(store, policy, clock, "x").show(1).checklist.items
        assert ["understand-alert"] == [i.id for i in items if i.ticked]

    def test_session_cannot_drive_the_json_api(
        self, make_client: Any, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """A browser cookie is no credential for writes to /api/."""
        client = make_client("responder")
        answer = client.post(
            "/api/v1/incidents", json={"title": "forged", "severity": "P4"}
        )

        assert 401 == answer.status_code
        assert [] == LocalDesk(store, policy, clock, "x").list()


class TestRoles:
    def test_viewer_cannot_post(
        self, make_client: Any, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """Even with a valid CSRF token a viewer changes nothing."""
        declare(store, policy, clock)
        client = make_client("viewer")
        token = csrf_of(client, "/incidents/1")
        answer = client.post(
            "/incidents/1/severity",
            data={"csrf": token, "severity": "P3", "reason": "calm down"},
        )

        assert 403 == answer.status_code
        assert "P1" == LocalDesk(store, policy, clock, "x").show(1).severity

    def test_viewer_is_offered_no_forms(
        self, make_client: Any, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """The incident page a viewer gets has no form that posts a change."""
        declare(store, policy, clock)
        page = make_client("viewer").get("/incidents/1").text

        assert [] == re.findall(r'<form method="post" action="/incidents', page)

    def test_responder_declares_and_is_sent_to_the_incident(
        self, make_client: Any
    ) -> None:
        """The board's form declares; errors come back as a sentence."""
        client = make_client("responder")
        token = csrf_of(client)
        answer = client.post(
            "/incidents",
            data={"csrf": token, "title": "CDN down", "severity": "P2"},
            follow_redirects=False,
        )
        bad = client.post(
            "/incidents", data={"csrf": token, "title": "", "severity": "P2"}
        )

        assert "/incidents/1" == answer.headers["location"]
        assert "title" in bad.text and "at least 1 character" in bad.text

    def test_text_is_escaped(
        self, make_client: Any, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """A title with markup is shown as text on the board and the status page."""
        declare(store, policy, clock, title="<script>alert(1)</script>")
        board = make_client("viewer").get("/").text
        status = make_client().get("/status").text

        for page in (board, status):
            assert "<script>alert(1)" not in page
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


class TestStatusPage:
    def test_public_incident_without_internals(
        self, make_client: Any, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """Public updates show; owner, impact, internal updates and channel do not."""
        desk = declare(
            store,
            policy,
            clock,
            services=["api-gateway"],
            impact="INTERNAL-IMPACT-NOTE",
            owner="secret-owner",
            customer_facing=True,
        )
        desk.post_update(
            1,
            StatusUpdateRequest(
                state="Identified",
                what_we_know="Edge 503s",
                what_we_are_doing="Draining",
            ),
        )
        desk.post_update(
            1,
            StatusUpdateRequest(
                state="Mitigating",
                what_we_know="INTERNAL-ONLY",
                what_we_are_doing="db failover",
                public=False,
            ),
        )
        client = make_client()
        html = client.get("/status").text
        data = client.get("/status.json").json()

        for text in (html, str(data)):
            assert "Edge 503s" in text
            for secret in ("secret-owner", "INTERNAL", "inc-2026", "db failover"):
                assert secret not in text
        assert "major-outage" == data["services"][0]["state"]
        assert ["Identified"] == [u["state"] for u in data["active"][0]["updates"]]

    def test_p4_never_shows(
        self, make_client: Any, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """The policy keeps P4 off the status page even when customer-facing."""
        declare(store, policy, clock, severity="P4", customer_facing=True)
        data = make_client().get("/status.json").json()

        assert ([], "operational") == (data["active"], data["overall"])


class TestLogs:
    def test_without_log_sources(self, make_client: Any) -> None:
        """A server with no log sources configured says so plainly."""
        page = make_client("viewer").get("/logs").text

        assert "No log sources are configured on this server" in page

    def test_results_and_timechart(
        self, store: Store, policy: Policy, clock: ManualClock, tokens: dict[str, str]
    ) -> None:
        """Rows become a table; time buckets become the chart's series."""
        calls: list[tuple[str, list[str]]] = []

        def run_query(query: str, sources: list[str]) -> list[dict[str, Any]]:
            calls.append((query, sources))
            return [
                {"bucket": datetime(2026, 3, 2, 10, m, tzinfo=UTC), "count": m + 1}
                for m in range(3)
            ]

        app = create_app(store, policy, clock=clock)
        install_console(app, log_runner=run_query, log_sources=["/var/log/a.jsonl"])
        with TestClient(app) as client:
            nonce = csrf_of(client, "/login")
            client.post("/login", data={"token": tokens["viewer"], "csrf": nonce})
            page = client.get("/logs", params={"q": "severity>=ERROR"}).text

        assert [("severity>=ERROR", ["/var/log/a.jsonl"])] == calls
        assert '<th scope="col">bucket</th>' in page
        assert '"points": [{"at": "2026-03-02T10:00:00+00:00", "value": 1}' in page


class TestCalendarFeed:
    def test_ics_feed(self, make_client: Any, tokens: dict[str, str]) -> None:
        """The rotation is served as iCalendar to a token holder."""
        client = make_client()
        answer = client.get(
            "/api/v1/oncall/primary.ics",
            headers={"Authorization": f"Bearer {tokens['viewer']}"},
        )

        assert 200 == answer.status_code
        assert answer.headers["content-type"].startswith("text/calendar")
        assert answer.text.startswith("BEGIN:VCALENDAR")
        assert 401 == client.get("/api/v1/oncall/primary.ics").status_code


class TestOnCallAndAudit:
    def test_add_override_shows_on_the_calendar(
        self, make_client: Any, clock: ManualClock
    ) -> None:
        """An override typed in the schedule's zone is listed and marks its days."""
        client = make_client("responder")
        token = csrf_of(client, "/oncall")
        answer = client.post(
            "/oncall/overrides",
            data={
                "csrf": token,
                "schedule": "primary",
                "person": "engineer-d",
                "covers": "",
                "starts_at": "2026-03-03T09:00",
                "ends_at": "2026-03-04T09:00",
                "reason": "swap",
            },
        )

        assert "Override added." in answer.text
        assert "engineer-d on call: 2026-03-03 09:00 UTC" in answer.text
        assert '<li class="override">engineer-d' in answer.text

    def test_override_in_the_past_is_refused_with_a_sentence(
        self, make_client: Any
    ) -> None:
        """The core's refusal comes back as the page's error message."""
        client = make_client("responder")
        token = csrf_of(client, "/oncall")
        answer = client.post(
            "/oncall/overrides",
            data={
                "csrf": token,
                "person": "engineer-d",
                "starts_at": "2026-01-01T09:00",
                "ends_at": "2026-01-02T09:00",
            },
        )

        assert "over before it is added" in answer.text

    def test_audit_filters_by_kind(
        self, make_client: Any, store: Store, clock: ManualClock
    ) -> None:
        """Filtering by a kind prefix leaves only those actions."""
        from mgops.audit import audited

        for kind in ("redis.flush-sessions", "kube.restart"):
            with audited(store, kind=kind, target="prod", actor="ann", clock=clock):
                pass
        client = make_client("viewer")
        everything = client.get("/audit").text
        only_redis = client.get("/audit", params={"kind": "redis."}).text

        assert "kube.restart" in everything and "redis.flush-sessions" in everything
        assert "kube.restart" not in only_redis
        assert "redis.flush-sessions" in only_redis
