"""Intake under hostile input and failures: found by attacking the group commit.

Every case here once answered 5xx (which senders retry for ever), leaked memory,
or could stop intake for good.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from mgops.access import create_integration
from mgops.clock import ManualClock
from mgops.policy import Policy
from mgops.store.batch import BatchWriter
from mgops.store.db import Store
from mgops.store.models import Alert, TimelineEntry
from mgops.web.app import create_app
from mgops.web.state import RateLimiter
from tests.alerts.conftest import am_alert, am_payload, seed_keys

TRIGGER = {
    "event_action": "trigger",
    "payload": {"summary": "s", "source": "x", "severity": "critical"},
}


class Sender:
    def __init__(self, client: TestClient, am: str, ev: str) -> None:
        self.client, self.am, self.ev = client, am, ev

    def alertmanager(self, payload: dict[str, Any], key: str | None = None) -> Any:
        return self.client.post(
            f"/api/v1/integrations/alertmanager/{key or self.am}", json=payload
        )

    def event(self, **fields: Any) -> Any:
        return self.client.post("/v2/enqueue", json={"routing_key": self.ev, **fields})

    def raw_event(self, text: str) -> Any:
        return self.client.post(
            "/v2/enqueue", content=text, headers={"content-type": "application/json"}
        )


def _sender(store: Store, policy: Policy, clock: ManualClock) -> Iterator[Sender]:
    _, am, ev = seed_keys(store, clock)
    app = create_app(store, policy, clock=clock, events_per_minute=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Sender(client, am, ev)


@pytest.fixture(params=["sqlite", "postgres"])
def sender(
    request: pytest.FixtureRequest, store: Store, policy: Policy, clock: ManualClock
) -> Iterator[Sender]:
    chosen = store if request.param == "sqlite" else request.getfixturevalue("pg_store")
    yield from _sender(chosen, policy, clock)


class TestNo5xxForBadInput:
    @pytest.mark.parametrize(
        "stamp", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"]
    )
    def test_events_v2_timestamp_out_of_range_is_400(
        self, sender: Sender, stamp: str
    ) -> None:
        body = {**TRIGGER, "payload": {**TRIGGER["payload"], "timestamp": stamp}}

        response = sender.event(**body)

        assert 400 == response.status_code
        assert "timestamp" in response.json()["errors"][0]

    def test_alertmanager_time_out_of_range_is_422(self, sender: Sender) -> None:
        alert = am_alert("A", "firing", "f1")
        alert["startsAt"] = "9999-12-31T23:59:59-01:00"

        response = sender.alertmanager(am_payload("firing", [alert]))

        assert 422 == response.status_code
        assert "out of range" in response.json()["message"]

    def test_nul_in_an_event_is_stored_as_a_replacement(self, sender: Sender) -> None:
        """PostgreSQL's text and jsonb cannot hold NUL: U+FFFD, not a 503."""
        response = sender.event(**TRIGGER, dedup_key="a\u0000b")
        again = sender.event(**TRIGGER, dedup_key="a\u0000b")

        assert (202, 202) == (response.status_code, again.status_code)
        assert "a\ufffdb" == response.json()["dedup_key"]
        assert again.json()["duplicate"] is True

    def test_nan_in_an_event_is_400(self, sender: Sender) -> None:
        import json

        details = {"x": "NOT-A-NUMBER"}
        body = {**TRIGGER, "payload": {**TRIGGER["payload"], "custom_details": details}}
        text = json.dumps({"routing_key": sender.ev, **body})
        text = text.replace('"NOT-A-NUMBER"', "NaN")

        response = sender.raw_event(text)

        assert 400 == response.status_code
        assert "not valid JSON" in response.json()["errors"][0]

    def test_alertmanager_nul_and_long_fingerprint_are_kept(
        self, sender: Sender, request: pytest.FixtureRequest
    ) -> None:
        """Alertmanager does not resend a 4xx: odd text is stored, not refused."""
        alert = am_alert("A", "firing", "f" * 301, team="web\u0000ops")

        first = sender.alertmanager(am_payload("firing", [alert]))
        again = sender.alertmanager(am_payload("firing", [alert]))

        groups = sender.client.app.state.mgops.store  # type: ignore[attr-defined]
        with groups.session() as session:
            stored = session.scalars(select(Alert)).all()
        assert (200, 200) == (first.status_code, again.status_code)
        assert 1 == len(stored)
        assert stored[0].fingerprint.startswith("sha256:")
        assert "web\ufffdops" == stored[0].labels["team"]

    def test_a_full_length_integration_name_still_takes_deliveries(
        self, sender: Sender, clock: ManualClock
    ) -> None:
        """The actor on the timeline is cut to the store's 100 characters."""
        store = sender.client.app.state.mgops.store  # type: ignore[attr-defined]
        with store.session() as session:
            _, key = create_integration(
                session, name="n" * 100, kind="alertmanager", now=clock.now()
            )

        response = sender.alertmanager(
            am_payload("firing", [am_alert("A", "firing", "f1")]), key=key
        )

        with store.session() as session:
            actors = set(session.scalars(select(TimelineEntry.actor)))
        assert 200 == response.status_code
        assert {"alertmanager:" + "n" * 87} == actors - {"mgops"}

    def test_a_store_error_tells_the_sender_no_sql(
        self, store: Store, policy: Policy, clock: ManualClock
    ) -> None:
        """A failing store is 503 with a sentence; the statement goes to the log."""

        from sqlalchemy.exc import OperationalError

        def refuse(*_args: object) -> None:
            raise OperationalError(
                "INSERT INTO alert_groups (secret columns)", {}, Exception("disk")
            )

        for sender in _sender(store, policy, clock):
            event.listen(store.engine, "before_cursor_execute", refuse)
            try:
                response = sender.event(**TRIGGER)
            finally:
                event.remove(store.engine, "before_cursor_execute", refuse)

            assert 503 == response.status_code
            assert "INSERT" not in response.text
            assert "server's log" in response.json()["message"]


def test_rate_limiter_forgets_keys_it_no_longer_sees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Made-up routing keys (each seen once) do not stay in memory."""
    import mgops.web.state as state_module

    now = [1000.0]
    monkeypatch.setattr(state_module.time, "monotonic", lambda: now[0])
    limiter = RateLimiter(120)
    for i in range(5000):
        limiter.retry_after(f"{i:032d}")
    now[0] += 3600
    for _ in range(10):
        limiter.retry_after("k" * 32)

    assert ["k" * 32] == list(limiter._seen)


def test_batch_writer_survives_a_base_exception(store: Store) -> None:
    """A job raising a BaseException fails alone; the writer goes on."""

    class Boom(BaseException):
        pass

    def bad(_session: object) -> None:
        raise Boom

    writer = BatchWriter(store)
    started, gate = threading.Event(), threading.Event()
    writer.submit(lambda _s: (started.set(), gate.wait(5)))
    started.wait(5)
    bad_future = writer.submit(bad)
    good_future = writer.submit(lambda _s: "ok")
    gate.set()
    try:
        with pytest.raises(Boom):
            bad_future.result(5)
        assert "ok" == good_future.result(5)
        assert "later" == writer.submit(lambda _s: "later").result(5)
    finally:
        writer.close()
