"""Real Prometheus → real Alertmanager → mgops serve: alerts become incidents.

A tiny exporter in this process serves one gauge; a rule fires while it is 1.
Alertmanager posts to the mgops webhook; the firing alert opens an incident of
the mapped severity, and when the gauge drops the resolution reaches the
incident's timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from mgops.access import create_integration, create_token
from mgops.clock import SYSTEM_CLOCK
from mgops.policy import default_policy
from mgops.store.db import Store
from tests.servers import free_port, start_alertmanager, start_prometheus
from tests.web.live import live_server

pytestmark = pytest.mark.e2e

RULES = """
groups:
  - name: media-gateway
    interval: 1s
    rules:
      - alert: ApiGatewayErrorRate
        expr: mgops_e2e_error_ratio > 0.05
        for: 0s
        labels: {severity: critical, service: api-gateway}
        annotations: {summary: "API Gateway 5xx ratio above 5%"}
"""


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def exporter() -> Iterator[tuple[Gauge, int]]:
    registry = CollectorRegistry()
    gauge = Gauge("mgops_e2e_error_ratio", "5xx ratio", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield gauge, port
    server.shutdown()
    thread.join(timeout=5)


def test_alert_becomes_incident_then_resolves(
    tmp_path: Any, exporter: tuple[Gauge, int]
) -> None:
    """A firing rule opens a P1 incident; its end is written on the timeline."""
    gauge, exporter_port = exporter
    gauge.set(0.5)
    store = Store(f"sqlite:///{tmp_path / 'mgops.db'}")
    with store.session() as session:
        _, token = create_token(
            session, name="e2e", role="viewer", now=SYSTEM_CLOCK.now()
        )
        _, key = create_integration(
            session, name="am", kind="alertmanager", now=SYSTEM_CLOCK.now()
        )
    headers = {"Authorization": f"Bearer {token}"}
    with live_server(store, default_policy()) as mgops_url:
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
        send_resolved: true
""")
        prometheus = start_prometheus(
            f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{{rules}}"]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{alertmanager.port}"]}}]
scrape_configs:
  - job_name: media-gateway
    static_configs: [{{targets: ["127.0.0.1:{exporter_port}"]}}]
""",
            RULES,
        )
        try:

            def incidents() -> list[dict[str, Any]]:
                return httpx.get(
                    f"{mgops_url}/api/v1/incidents", headers=headers, timeout=5
                ).json()  # type: ignore[no-any-return]

            opened = wait_until(incidents, 60, "the alert to open an incident")
            number = opened[0]["id"]
            gauge.set(0.0)

            def resolved_entry() -> Any:
                view = httpx.get(
                    f"{mgops_url}/api/v1/incidents/{number}", headers=headers, timeout=5
                ).json()
                kinds = [e["kind"] for e in view["timeline"]]
                return view if "alert-group-resolved" in kinds else None

            view = wait_until(resolved_entry, 60, "the resolution to reach mgops")
        except AssertionError:
            print(prometheus.log(), alertmanager.log())
            raise
        finally:
            prometheus.stop()
            alertmanager.stop()
    store.dispose()

    kinds = [e["kind"] for e in view["timeline"]]
    assert 1 == len(opened)
    assert ("P1", "alertmanager", ["api-gateway"]) == (
        view["severity"],
        view["source"],
        view["services"],
    )
    assert "API Gateway 5xx ratio above 5%" == view["title"]
    assert "alert-firing" in kinds
    assert "alert-resolved" in kinds
