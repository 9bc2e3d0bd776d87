"""A fake Kubernetes cluster for the tests: an API server on 127.0.0.1 plus controllers.

    cluster = FakeCluster.start(tick=0.05)
    cluster.add_deployment("api-gateway", replicas=3)
    cluster.wait_rolled_out("api-gateway")
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
    ...
    cluster.stop()

``set_fault(deployment, "crashloop" | "image-pull" | "never-ready" | None)`` changes
what pods created from then on do; ``requests`` records every request the server saw.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.runbooks.kube.fakeapi.controller import Controller, pod_ready
from tests.runbooks.kube.fakeapi.discovery import Resource
from tests.runbooks.kube.fakeapi.objects import ApiError, Obj, ObjectStore, now_rfc3339
from tests.runbooks.kube.fakeapi.server import FakeServer, Request

NAMESPACE = "production"


class FakeCluster:
    def __init__(self, tick: float) -> None:
        self.store = ObjectStore()
        self.tick = tick
        self.start_ticks = 2
        self.terminate_ticks = 2
        self.faults: dict[str, str | None] = {}
        self.hpa_load: dict[str, int] = {}
        self.logs: dict[str, list[tuple[datetime, str]]] = {}
        self.requests: list[Request] = []
        self.controller = Controller(self)
        self.server = FakeServer(self)
        self.port = self.server.server_address[1]
        self._running = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def start(cls, tick: float = 0.05) -> FakeCluster:
        cluster = cls(tick)
        serve = threading.Thread(target=cluster.server.serve_forever, daemon=True)
        loop = threading.Thread(target=cluster._loop, daemon=True)
        cluster._threads = [serve, loop]
        cluster._running.set()
        serve.start()
        loop.start()
        return cluster

    def stop(self) -> None:
        self._stop.set()
        self.server.closing = True
        self.store.stop()
        self.server.shutdown()
        self.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            if self._running.is_set():
                self.controller.tick()

    def pause_controllers(self) -> None:
        self._running.clear()

    def resume_controllers(self) -> None:
        self._running.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: Path, context: str = "fake") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "fake-token"}}],
            "contexts": [
                {
                    "name": context,
                    "context": {
                        "cluster": "fake",
                        "user": "tester",
                        "namespace": NAMESPACE,
                    },
                }
            ],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # -- building the world --------------------------------------------------------

    def add_deployment(
        self,
        name: str,
        *,
        replicas: int = 3,
        namespace: str = NAMESPACE,
        image: str = "registry.local/media/app:1.0",
        paused: bool = False,
        progress_deadline: int = 600,
        annotations: dict[str, str] | None = None,
        pod_spec: Obj | None = None,
    ) -> Obj:
        labels = {"app": name}
        spec = pod_spec or {"containers": [{"name": "app", "image": image}]}
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "labels": labels,
                "annotations": annotations or {},
            },
            "spec": {
                "replicas": replicas,
                "paused": paused,
                "progressDeadlineSeconds": progress_deadline,
                "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"team": "media"}},
                    "spec": spec,
                },
            },
        }
        return self.store.create("apps", "deployments", namespace, body)

    def add_hpa(
        self,
        target: str,
        *,
        low: int,
        high: int,
        name: str | None = None,
        namespace: str = NAMESPACE,
    ) -> Obj:
        body = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name or target},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": target,
                },
                "minReplicas": low,
                "maxReplicas": high,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        }
        return self.store.create(
            "autoscaling", "horizontalpodautoscalers", namespace, body
        )

    def add_pdb(
        self, target: str, *, min_available: int, namespace: str = NAMESPACE
    ) -> Obj:
        body = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": target},
            "spec": {
                "minAvailable": min_available,
                "selector": {"matchLabels": {"app": target}},
            },
        }
        return self.store.create("policy", "poddisruptionbudgets", namespace, body)

    def add_configmap(
        self, name: str, data: dict[str, str], namespace: str = NAMESPACE
    ) -> Obj:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": data,
        }
        return self.store.create("", "configmaps", namespace, body)

    def add_external_secret(
        self, name: str, target: str, namespace: str = NAMESPACE
    ) -> Obj:
        body = {
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "metadata": {"name": name},
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": "gcp"},
                "target": {"name": target},
                "dataFrom": [{"extract": {"key": name}}],
            },
        }
        return self.store.create(
            "external-secrets.io", "externalsecrets", namespace, body
        )

    def set_image(
        self, deployment: str, image: str, namespace: str = NAMESPACE
    ) -> None:
        """A new template, as a deploy would make: the next revision rolls out."""
        with self.store.lock:
            old = self.deployment(deployment, namespace)
            new = copy.deepcopy(old)
            new["spec"]["template"]["spec"]["containers"][0]["image"] = image
            self.store.commit("apps", "deployments", namespace, old, new, status=False)

    def set_fault(self, key: str, mode: str | None) -> None:
        self.faults[key] = mode

    # -- looking ------------------------------------------------------------------

    def deployment(self, name: str, namespace: str = NAMESPACE) -> Obj:
        return self.store.get("apps", "deployments", namespace, name)

    def pods(self, app: str, namespace: str = NAMESPACE) -> list[Obj]:
        return self.store.list("", "pods", namespace, f"app={app}")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(self.tick / 2)
        raise AssertionError(f"condition not met within {timeout}s")

    def rolled_out(self, name: str, namespace: str = NAMESPACE) -> bool:
        dep = self.deployment(name, namespace)
        status, want = dep.get("status", {}), dep["spec"].get("replicas", 1)
        return (
            status.get("observedGeneration") == dep["metadata"]["generation"]
            and status.get("updatedReplicas") == want
            and status.get("availableReplicas") == want
            and status.get("replicas") == want
        )

    def wait_rolled_out(self, name: str, timeout: float = 20.0) -> None:
        self.wait_for(lambda: self.rolled_out(name), timeout)

    def writes(self) -> list[Request]:
        return [
            r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")
        ]

    # -- behaviour the handler delegates ----------------------------------------

    def delete_object(self, res: Resource, ns: str, name: str, *, grace: Any) -> Obj:
        if res.plural != "pods":
            return self.store.delete(res.group, res.plural, ns, name)
        if grace is not None and int(grace) == 0:
            return self.store.delete("", "pods", ns, name)
        return self.delete_object_by_name(ns, name)

    def delete_object_by_name(self, ns: str, name: str) -> Obj:
        with self.store.lock:
            pod = self.store.get("", "pods", ns, name)
            if pod["metadata"].get("deletionTimestamp"):
                return pod
            marked = dict(
                pod, metadata=dict(pod["metadata"], deletionTimestamp=now_rfc3339())
            )
            self.event(pod, "Killing", "Stopping container app")
            return self.store.commit("", "pods", ns, pod, marked, status=False)

    def evict(self, ns: str, name: str, *, dry: bool) -> None:
        with self.store.lock:
            pod = self.store.get("", "pods", ns, name)
            labels = pod["metadata"].get("labels") or {}
            for pdb in self.store.list("policy", "poddisruptionbudgets", ns):
                selector = pdb["spec"]["selector"].get("matchLabels", {})
                if any(labels.get(k) != v for k, v in selector.items()):
                    continue
                members = self.store.list(
                    "", "pods", ns, ",".join(f"{k}={v}" for k, v in selector.items())
                )
                healthy = sum(1 for p in members if pod_ready(p))
                if healthy - int(pdb["spec"].get("minAvailable", 0)) < 1 and pod_ready(
                    pod
                ):
                    raise ApiError(
                        429,
                        "TooManyRequests",
                        "Cannot evict pod as it would violate the pod's "
                        "disruption budget.",
                    )
            if not dry:
                self.delete_object_by_name(ns, name)

    def event(
        self, about: Obj, reason: str, message: str, *, warning: bool = False
    ) -> None:
        meta = about["metadata"]
        stamp = now_rfc3339()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}"},
            "involvedObject": {
                "kind": about.get("kind"),
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": "fake-controller"},
        }
        self.store.create("", "events", meta.get("namespace") or NAMESPACE, body)

    def add_log(self, pod: str, line: str, at: datetime | None = None) -> None:
        with self.store.lock:
            self.logs.setdefault(pod, []).append((at or datetime.now(UTC), line))

    def pod_log(self, ns: str, name: str, query: dict[str, str]) -> str:
        self.store.get("", "pods", ns, name)
        with self.store.lock:
            lines = list(self.logs.get(name, []))
        if "sinceSeconds" in query:
            since = datetime.now(UTC) - timedelta(seconds=int(query["sinceSeconds"]))
            lines = [(t, line) for t, line in lines if t >= since]
        if "tailLines" in query:
            lines = lines[-int(query["tailLines"]) :]
        stamped = query.get("timestamps") in ("true", "1")
        return "".join(
            f"{t.strftime('%Y-%m-%dT%H:%M:%S.%f')}000Z {line}\n"
            if stamped
            else f"{line}\n"
            for t, line in lines
        )
