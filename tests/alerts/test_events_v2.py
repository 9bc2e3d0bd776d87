"""Events v2 intake: the contract's 202/400/429 bodies, dedup keys, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from mgops.clock import SYSTEM_CLOCK, ManualClock
from mgops.policy import Policy
from mgops.store.db import Store
from tests.alerts.conftest import Api, seed_keys
from tests.web.live import live_server

TRIGGER = {
    "event_action": "trigger",
    "payload": {
        "summary": "API p99 over 1s",
        "source": "api-gateway",
        "severity": "critical",
    },
}


def trigger(summary: str = "API p99 over 1s", **extra: Any) -> dict[str, Any]:
    return {**TRIGGER, "payload": {**TRIGGER["payload"], "summary": summary}, **extra}


class TestContract:
    def test_trigger_202_body(self, api: Api) -> None:
        """A trigger is answered like Events v2, with the key it was filed under."""
        response = api.event(**trigger(dedup_key="k-1"))

        assert response.status_code == 202
        assert response.json() == {
            "status": "success",
            "message": "Event processed",
            "dedup_key": "k-1",
        }

    def test_trigger_without_key_gets_one(self, api: Api) -> None:
        """Without dedup_key the server makes one and returns it."""
        body = api.event(**trigger()).json()

        assert len(body["dedup_key"]) == 36

    @pytest.mark.parametrize(
        ("event", "message"),
        [
            ({"event_action": "trigger"}, "'payload' is missing"),
            ({"event_action": "explode"}, "'event_action' is invalid"),
            ({"event_action": "resolve"}, "'dedup_key' is required"),
            (
                {
                    **TRIGGER,
                    "payload": {"summary": "x", "source": "y", "severity": "bad"},
                },
                "'payload.severity' is invalid",
            ),
        ],
    )
    def test_invalid_event_400(
        self, api: Api, event: dict[str, Any], message: str
    ) -> None:
        """Invalid events get Events v2's 400 body with the reasons."""
        response = api.event(**event)

        body = response.json()
        assert response.status_code == 400
        assert (body["status"], body["message"]) == (
            "invalid event",
            "Event object is invalid",
        )
        assert any(message in e for e in body["errors"])

    def test_short_routing_key(self, api: Api) -> None:
        """A routing key of the wrong length is named as such."""
        response = api.client.post(
            "/v2/enqueue", json={**trigger(), "routing_key": "x"}
        )

        assert response.status_code == 400
        assert "should be 32 characters" in response.json()["errors"][0]

    def test_not_json(self, api: Api) -> None:
        """A body that is not JSON is a 400, not a 500."""
        response = api.client.post(
            "/v2/enqueue",
            content=b"\xff{",
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 400

    def test_rate_limit_429(
        self, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """Past the per-key limit the answer is 429 with Retry-After."""
        from fastapi.testclient import TestClient

        from mgops.web.app import create_app

        _, _, ev = seed_keys(store, clock)
        with TestClient(
            create_app(store, policy, clock=clock, events_per_minute=2)
        ) as client:
            codes = [
                client.post("/v2/enqueue", json={"routing_key": ev, **trigger()})
                for _ in range(3)
            ]

        assert [r.status_code for r in codes] == [202, 202, 429]
        assert int(codes[2].headers["retry-after"]) >= 1


class TestContext:
    def test_images_links_and_client_are_kept_on_the_alert(self, api: Api) -> None:
        """A trigger's context arrives with its alert."""
        images = [{"src": "https://grafana.example/render/p99.png", "alt": "p99"}]
        links = [{"href": "https://runbooks.example/latency", "text": "Runbook"}]
        api.event(
            **trigger(dedup_key="ctx"),
            images=images,
            links=links,
            client="Grafana",
            client_url="https://grafana.example/d/api",
        )

        groups = api.get("/api/v1/alerts/groups")
        annotations = groups[0]["alerts"][0]["annotations"]
        assert {
            "images": images,
            "links": links,
            "client": "Grafana",
            "client_url": "https://grafana.example/d/api",
        } == annotations

    @pytest.mark.parametrize(
        ("extra", "error"),
        [
            ({"images": {"src": "https://x"}}, "'images' must be an array"),
            ({"images": [{"alt": "no src"}]}, "'images[0]'.src is required"),
            ({"images": [{"src": "http://x/a.png"}]}, "must be an https URL"),
            ({"links": ["https://x"]}, "'links[0]' must be an object"),
            ({"links": [{"href": "https://x", "text": 5}]}, ".text must be a string"),
            ({"client": 7}, "'client' must be a string"),
        ],
    )
    def test_malformed_context_is_400_naming_it(
        self, api: Api, extra: dict[str, Any], error: str
    ) -> None:
        response = api.event(**trigger(), **extra)

        assert 400 == response.status_code
        assert any(error in e for e in response.json()["errors"])
        assert [] == api.get("/api/v1/alerts/groups")


class TestLifecycle:
    def test_case_o8_duplicate_is_said_and_recorded(self, api: Api) -> None:
        """Same dedup key, other summary: one alert; the reply and timeline say so."""
        first = api.event(**trigger("p99 over 1s", dedup_key="lat")).json()
        second = api.event(**trigger("p99 over 2s", dedup_key="lat")).json()

        groups = api.get("/api/v1/alerts/groups")
        incident = api.get(f"/api/v1/incidents/{groups[0]['incident_id']}")
        assert "duplicate" not in first and second["duplicate"] is True
        assert (len(groups), len(groups[0]["alerts"])) == (1, 1)
        assert incident["timeline"][-1]["kind"] == "alert-duplicate"
        assert "p99 over 2s" in incident["timeline"][-1]["message"]

    def test_ack_and_resolve_then_new_alert(self, api: Api) -> None:
        """Ack then resolve; a later trigger with the key opens a new alert."""
        api.event(**trigger(dedup_key="d"))
        api.event(event_action="acknowledge", dedup_key="d")
        api.event(event_action="resolve", dedup_key="d")
        dropped = api.event(event_action="resolve", dedup_key="d")

        api.event(**trigger(dedup_key="d"))

        groups = api.get("/api/v1/alerts/groups")
        assert dropped.status_code == 202
        assert [g["status"] for g in groups] == ["firing", "resolved"]

    def test_ack_for_unknown_key_is_dropped_with_202(self, api: Api) -> None:
        """Acknowledging something that is not open is accepted and does nothing."""
        response = api.event(event_action="acknowledge", dedup_key="never")

        assert response.status_code == 202
        assert api.get("/api/v1/alerts/groups") == []


class TestOneBatch:
    def test_create_repeat_ack_repeat_in_one_transaction(
        self, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """Four deliveries of one key share a batch: each sees the ones before it.

        The repeat path writes around the session's objects; the acknowledgement
        after it goes through them, so stale objects would lose a delivery count
        or an entry.
        """
        import functools
        import threading
        from datetime import timedelta

        from sqlalchemy import select

        from mgops.alerts.events_v2 import validate_event
        from mgops.store.models import AlertGroup, TimelineEntry
        from mgops.web.api.intake import _store_event
        from mgops.web.state import AppState

        _, _, ev = seed_keys(store, clock)
        state = AppState(store=store, policy=policy, clock=clock)
        bodies = [
            {"routing_key": ev, **trigger("first", dedup_key="k")},
            {"routing_key": ev, **trigger("second", dedup_key="k")},
            {"routing_key": ev, "event_action": "acknowledge", "dedup_key": "k"},
            {"routing_key": ev, **trigger("third", dedup_key="k")},
        ]
        started, gate = threading.Event(), threading.Event()
        state.intake.submit(lambda _s: (started.set(), gate.wait(5)))
        started.wait(5)
        futures = []
        for body in bodies:
            clock.advance(timedelta(seconds=1))
            job = functools.partial(_store_event, state, validate_event(body))
            futures.append(state.intake.submit(job))
        gate.set()
        results = [f.result(10) for f in futures]
        state.intake.close()

        with store.session() as session:
            group = session.scalars(select(AlertGroup)).one()
            kinds = list(
                session.scalars(
                    select(TimelineEntry.kind)
                    .where(TimelineEntry.kind.like("alert-%"))
                    .order_by(TimelineEntry.id)
                )
            )
        assert [r[0].duplicate for r in results if r] == [False, True, False, True]
        assert (group.deliveries, group.status) == (4, "acknowledged")
        assert kinds == [
            "alert-group-opened",
            "alert-firing",
            "alert-duplicate",
            "alert-acknowledged",
            "alert-duplicate",
        ]
        assert state.intake.batches == 2


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, store: Store) -> Store:
    if request.param == "postgres":
        return request.getfixturevalue("pg_store")  # type: ignore[no-any-return]
    return store


class TestConcurrency:
    def test_fifty_concurrent_triggers_make_one_alert(
        self, any_store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """Fifty identical triggers at once: one group, one alert, one incident."""
        _, _, ev = seed_keys(any_store, clock)
        body = {"routing_key": ev, **trigger(dedup_key="storm")}
        with live_server(any_store, policy, clock=SYSTEM_CLOCK) as url:

            def send(_: int) -> int:
                return httpx.post(
                    f"{url}/v2/enqueue", json=body, timeout=30
                ).status_code

            with ThreadPoolExecutor(max_workers=50) as pool:
                codes = list(pool.map(send, range(50)))

        from sqlalchemy import func, select

        from mgops.store.models import Alert, AlertGroup, Incident

        with any_store.session() as session:
            counts = [
                session.scalar(select(func.count()).select_from(model))
                for model in (AlertGroup, Alert, Incident)
            ]
        assert codes == [202] * 50
        assert counts == [1, 1, 1]
