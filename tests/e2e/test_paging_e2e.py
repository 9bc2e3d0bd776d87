"""Real Alertmanager → mgops → the primary is paged by Slack and email; then escalation.

Alertmanager (the Debian package) receives an alert through its API and posts
it to mgops's webhook. The worker pages the on-call primary through a Slack
incoming-webhook receiver and a real SMTP server (aiosmtpd), both on loopback.
Nobody acknowledges within the policy's (shortened) deadline, so the secondary
is paged; an acknowledgement then stops everything.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from mgops.access import create_integration, create_token
from mgops.clock import SYSTEM_CLOCK
from mgops.notify.channels import build_channels
from mgops.notify.links import LinkSigner, server_secret
from mgops.oncall import who_is_on_call
from mgops.store.db import Store
from mgops.worker import Worker
from tests.oncall.paging_fixtures import paging_policy
from tests.servers import free_port, start_alertmanager
from tests.web.live import live_server

pytestmark = pytest.mark.e2e


class SlackReceiver:
    """An incoming-webhook stand-in: records each POST and answers ``ok``."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    receiver = SlackReceiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_alert_pages_primary_then_secondary_then_ack_stops(
    tmp_path: Path, slack: SlackReceiver, smtp: tuple[Mailbox, int]
) -> None:
    """Primary paged on Slack and by email; no ack → secondary; ack → silence."""
    mailbox, smtp_port = smtp
    team = {
        handle: {
            "contacts": [
                {"kind": "slack", "address": f"{slack.url}/{handle}"},
                {"kind": "email", "address": f"{handle}@example.test"},
            ],
            "notify": [
                {"contact": "slack", "after_seconds": 0},
                {"contact": "email", "after_seconds": 0},
            ],
        }
        for handle in ("engineer-a", "engineer-b", "engineer-c", "engineer-d")
    }
    policy = paging_policy(people=team, level1_seconds=4)
    store = Store(f"sqlite:///{tmp_path / 'mgops.db'}")
    with store.session() as session:
        _, token = create_token(
            session, name="engineer-b", role="responder", now=SYSTEM_CLOCK.now()
        )
        _, key = create_integration(
            session, name="am", kind="alertmanager", now=SYSTEM_CLOCK.now()
        )
        oncall = who_is_on_call(session, None, SYSTEM_CLOCK.now(), policy=policy)
    primary, secondary = f"/{oncall.primary}", f"/{oncall.secondary}"
    headers = {"Authorization": f"Bearer {token}"}
    stop = threading.Event()

    with live_server(store, policy) as mgops_url:
        worker = Worker(
            store,
            policy,
            SYSTEM_CLOCK,
            build_channels(
                smtp_url=f"smtp://127.0.0.1:{smtp_port}", smtp_from="mgops@example.test"
            ),
            LinkSigner(server_secret(store), mgops_url),
        )
        threading.Thread(target=worker.run, args=(stop, 0.2), daemon=True).start()
        alertmanager = start_alertmanager(f"""
route:
  receiver: mgops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: mgops
    webhook_configs:
      - url: {mgops_url}/api/v1/integrations/alertmanager/{key}
""")
        try:
            now = datetime.now(UTC).isoformat()
            httpx.post(
                f"{alertmanager.url}/api/v2/alerts",
                json=[
                    {
                        "labels": {
                            "alertname": "AuthDown",
                            "severity": "critical",
                            "service": "auth-service",
                        },
                        "annotations": {
                            "summary": "Authentication failing for all users"
                        },
                        "startsAt": now,
                    }
                ],
                timeout=10,
            ).raise_for_status()

            def slack_paths() -> list[str]:
                return [path for path, _ in slack.posts]

            wait_until(lambda: primary in slack_paths(), 60, "the primary's page")
            wait_until(lambda: secondary in slack_paths(), 30, "the escalation")
            wait_until(lambda: len(mailbox.messages) >= 2, 15, "both emails")
            pages = httpx.get(f"{mgops_url}/api/v1/pages", headers=headers).json()
            second = next(p for p in pages if p["person"] == oncall.secondary)
            acked = httpx.post(
                f"{mgops_url}/api/v1/pages/{second['id']}/ack", headers=headers
            )
            settled = (len(slack.posts), len(mailbox.messages))
            time.sleep(3)
            after = (len(slack.posts), len(mailbox.messages))
        finally:
            stop.set()
            alertmanager.stop()
    store.dispose()

    first = slack.posts[0][1]
    assert [primary, secondary] == [path for path, _ in slack.posts]
    assert first["text"].startswith("[P1] Incident #1: Authentication failing")
    button = next(b for b in first["blocks"] if b["type"] == "actions")
    assert button["elements"][0]["url"].startswith(f"{mgops_url}/ack/")
    assert {f"{oncall.primary}@example.test", f"{oncall.secondary}@example.test"} == {
        m["To"] for m in mailbox.messages
    }
    assert 200 == acked.status_code
    assert settled == after
