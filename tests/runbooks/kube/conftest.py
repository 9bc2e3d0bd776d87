"""Fixtures for the service runbooks: a fake cluster, a client bound to it, a scope.

Every client here is built from a kubeconfig the test writes, pointing at the
fake on 127.0.0.1; nothing reads ``~/.kube/config`` or in-cluster settings.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mgops.clock import SYSTEM_CLOCK
from mgops.policy import Policy, default_policy
from mgops.runbooks.kube.client import KubeClient, KubeTarget
from mgops.runbooks.kube.restart import WatchOptions
from mgops.runbooks.kube.scope import Scope
from mgops.store.db import Store
from tests.runbooks.kube.fakeapi import FakeCluster
from tests.runbooks.kube.promserver import PrometheusServer, start_prometheus


@pytest.fixture(autouse=True)
def _no_ambient_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach a real cluster through the environment."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    fake = FakeCluster.start(tick=0.02)
    yield fake
    fake.stop()


@pytest.fixture
def kubeconfig(cluster: FakeCluster, tmp_path: Path) -> Path:
    return cluster.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube(kubeconfig: Path) -> Iterator[KubeClient]:
    client = KubeClient.connect(KubeTarget(kubeconfig=str(kubeconfig)))
    yield client
    client.close()


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path.startswith("/health") else 503
        body = b'{"status": "ok"}' if code == 200 else b'{"status": "down"}'
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def health_base() -> Iterator[str]:
    """A loopback server: /health/* answers 200, anything else 503."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_policy(health_base: str) -> Callable[..., Policy]:
    """The default policy with loopback health URLs (``broken`` ones answer 503)."""

    def make(broken: tuple[str, ...] = ()) -> Policy:
        base = default_policy()
        services = [
            svc.model_copy(
                update={"health_url": f"{health_base}/{_path(svc.name, broken)}"}
            )
            for svc in base.services
        ]
        return base.model_copy(update={"services": services})

    return make


def _path(service: str, broken: tuple[str, ...]) -> str:
    return f"{'down' if service in broken else 'health'}/{service}"


@pytest.fixture
def scope(kube: KubeClient, store: Store, make_policy: Callable[..., Policy]) -> Scope:
    return Scope(client=kube, store=store, policy=make_policy(), clock=SYSTEM_CLOCK)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


@pytest.fixture
def watch(http: httpx.Client) -> WatchOptions:
    return WatchOptions(timeout=20.0, interval=0.05, http=http, health_wait=0.1)


@pytest.fixture(scope="session")
def prometheus() -> Iterator[PrometheusServer]:
    """A real Prometheus (Debian package) scraping the tests' workload exporter."""
    server = start_prometheus()
    yield server
    server.stop()


# Namespaces of the session's workload: each test reads only its own.
WORKLOAD = {
    "cpu-high": ("content-service", 4, 0.6),
    "cpu-low": ("content-service", 4, 0.3),
    "watch-ok": ("search-service", 3, 0.4),
    "watch-hot": ("search-service", 3, 0.9),
}
WINDOW = "5s"


@pytest.fixture(scope="session")
def workload(prometheus: PrometheusServer) -> PrometheusServer:
    """Pods and traffic in Prometheus, settled: rates over WINDOW are accurate."""
    from mgops.runbooks.kube.metrics import ServiceQueries

    for namespace, (deployment, pods, cores) in WORKLOAD.items():
        for i in range(pods):
            pod = f"{deployment}-5d8f7c9b4-p{i}x"
            prometheus.workload.set_pod_cpu(namespace, pod, cores)
        prometheus.workload.set_traffic(namespace, deployment, 50.0, 0.01, 0.08)
    for namespace, (deployment, pods, cores) in WORKLOAD.items():
        queries = ServiceQueries(namespace, deployment, deployment, WINDOW)
        prometheus.wait_for(queries.cpu_percent_by_pod(), count=pods)
        prometheus.wait_for_value(
            queries.cpu_percent_by_pod(), cores * 100, tolerance=0.05
        )
    return prometheus


@pytest.fixture
def make_incident(store: Store) -> Callable[..., int]:
    """An open incident in the store; its id."""
    from datetime import UTC, datetime

    from mgops.store.models import Incident

    def make(title: str = "API errors") -> int:
        now = datetime.now(UTC)
        with store.session() as session:
            row = Incident(
                title=title,
                severity="P2",
                phase="RESPOND",
                declared_by="tester",
                declared_at=now,
                started_at=now,
                phase_entered_at=now,
                updated_at=now,
                channel="inc-test",
            )
            session.add(row)
            session.flush()
            return int(row.id)

    return make


def actions(store: Store, kind: str | None = None) -> list[Any]:
    """The audit rows, oldest first (optionally of one kind)."""
    from mgops.store.models import Action

    with store.session() as session:
        rows = session.query(Action).order_by(Action.id).all()
        session.expunge_all()
    return [r for r in rows if kind is None or r.kind == kind]


class FlagServer:
    """Serves ``flags``, then ``later`` once ``flip_after`` reads were made."""

    def __init__(
        self, flags: dict[str, Any], later: dict[str, Any], flip_after: int
    ) -> None:
        self.reads = 0
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                state.reads += 1
                body = json.dumps(later if state.reads > flip_after else flags).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/internal/flags"


@pytest.fixture
def flag_server() -> Iterator[Any]:
    servers = []

    def make(
        flags: dict[str, Any], later: dict[str, Any], flip_after: int
    ) -> FlagServer:
        server = FlagServer(flags, later, flip_after)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.server.shutdown()
        server.server.server_close()
