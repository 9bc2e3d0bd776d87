"""A real Prometheus scraping a workload exporter the tests control.

The exporter (prometheus_client) serves, for each pod and service a test
registers, the series a cluster would have: cAdvisor CPU counters, the
kube-state-metrics CPU request, and HTTP request counters and latency
histograms. Counters grow at the rate the test set, so ``rate()`` in Prometheus
returns that rate. Prometheus scrapes every second into its own temporary
storage; tests use their own namespace so their series never mix.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import start_http_server

from tests.servers import free_port, require_binary, wait_for_port

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class _Rate:
    """A counter that grows at ``per_second`` from ``since``; rate changes keep it."""

    per_second: float
    base: float = 0.0
    since: float = field(default_factory=time.time)

    def value(self) -> float:
        return self.base + self.per_second * (time.time() - self.since)

    def change(self, per_second: float) -> None:
        self.base, self.since, self.per_second = self.value(), time.time(), per_second


@dataclass
class _Traffic:
    ok: _Rate
    errors: _Rate
    latency: float


class Workload:
    """What the exporter reports; tests change it while Prometheus scrapes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cpu: dict[tuple[str, str], tuple[_Rate, float]] = {}
        self.http: dict[tuple[str, str], _Traffic] = {}

    def set_pod_cpu(
        self, namespace: str, pod: str, used: float, request: float = 1.0
    ) -> None:
        """``used`` cores of ``request`` cores: 0.6 of 1.0 is 60%."""
        with self.lock:
            if (namespace, pod) in self.cpu:
                self.cpu[(namespace, pod)][0].change(used)
                self.cpu[(namespace, pod)] = (self.cpu[(namespace, pod)][0], request)
            else:
                self.cpu[(namespace, pod)] = (_Rate(used), request)

    def set_traffic(
        self,
        namespace: str,
        service: str,
        rps: float,
        error_ratio: float,
        latency: float,
    ) -> None:
        with self.lock:
            old = self.http.get((namespace, service))
            ok, bad = rps * (1 - error_ratio), rps * error_ratio
            if old is None:
                self.http[(namespace, service)] = _Traffic(
                    _Rate(ok), _Rate(bad), latency
                )
            else:
                old.ok.change(ok)
                old.errors.change(bad)
                old.latency = latency

    def collect(self) -> Iterable[Any]:
        with self.lock:
            cpu = CounterMetricFamily(
                "container_cpu_usage_seconds_total",
                "CPU seconds used",
                labels=["namespace", "pod", "container"],
            )
            requests = GaugeMetricFamily(
                "kube_pod_container_resource_requests",
                "Requested resources",
                labels=["namespace", "pod", "container", "resource", "unit"],
            )
            for (ns, pod), (rate, request) in self.cpu.items():
                cpu.add_metric([ns, pod, "app"], rate.value())
                requests.add_metric([ns, pod, "app", "cpu", "core"], request)
            calls = CounterMetricFamily(
                "http_requests_total",
                "HTTP requests",
                labels=["namespace", "service", "status"],
            )
            latency = HistogramMetricFamily(
                "http_request_duration_seconds",
                "HTTP latency",
                labels=["namespace", "service"],
            )
            for (ns, svc), traffic in self.http.items():
                ok, bad = traffic.ok.value(), traffic.errors.value()
                calls.add_metric([ns, svc, "200"], ok)
                calls.add_metric([ns, svc, "503"], bad)
                total = ok + bad
                buckets = [
                    (str(le), total if traffic.latency <= le else 0.0) for le in BUCKETS
                ]
                buckets.append(("+Inf", total))
                latency.add_metric(
                    [ns, svc], buckets, sum_value=total * traffic.latency
                )
            return [cpu, requests, calls, latency]


@dataclass
class PrometheusServer:
    url: str
    workload: Workload
    process: subprocess.Popen[bytes]
    root: Path
    exporter: Any

    def wait_for(self, query: str, timeout: float = 30.0, *, count: int = 1) -> None:
        """Until ``query`` returns at least ``count`` series."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = httpx.get(
                f"{self.url}/api/v1/query", params={"query": query}, timeout=5
            ).json()
            if body.get("status") == "success" and len(body["data"]["result"]) >= count:
                return
            time.sleep(0.25)
        raise AssertionError(f"Prometheus never returned {count} series for {query}")

    def wait_for_value(
        self, query: str, expected: float, *, tolerance: float, timeout: float = 30.0
    ) -> None:
        """Until every series of ``query`` is within ``tolerance`` (a fraction)."""
        deadline = time.monotonic() + timeout
        values: list[float] = []
        while time.monotonic() < deadline:
            body = httpx.get(
                f"{self.url}/api/v1/query", params={"query": query}, timeout=5
            ).json()
            values = [float(r["value"][1]) for r in body["data"]["result"]]
            if values and all(
                abs(v - expected) <= expected * tolerance for v in values
            ):
                return
            time.sleep(0.25)
        raise AssertionError(f"{query} stayed at {values}, not near {expected}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.exporter[0].shutdown()
        shutil.rmtree(self.root, ignore_errors=True)


def start_prometheus() -> PrometheusServer:
    binary = require_binary("/usr/bin/prometheus", "prometheus")
    workload = Workload()
    registry = CollectorRegistry()
    registry.register(workload)  # type: ignore[arg-type]
    exporter_port = free_port()
    exporter = start_http_server(exporter_port, addr="127.0.0.1", registry=registry)
    root = Path(tempfile.mkdtemp(prefix="mgops-prom-"))
    config = root / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: workload\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    port = free_port()
    log = (root / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = PrometheusServer(
        f"http://127.0.0.1:{port}", workload, process, root, exporter
    )
    try:
        wait_for_port(port)
        server.wait_for('up{job="workload"} == 1')
    except Exception:
        server.stop()
        raise
    return server
