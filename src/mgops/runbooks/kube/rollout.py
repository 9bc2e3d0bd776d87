"""Watching a rollout to its end with kubectl's rule, and checking health after it.

A deployment has rolled out when, as ``kubectl rollout status`` decides:

1. the controller has observed the latest spec (``observedGeneration >= generation``);
2. every desired replica runs the new template (``updatedReplicas == spec.replicas``);
3. no old replicas remain (``status.replicas == updatedReplicas``);
4. every updated replica is available (``availableReplicas == updatedReplicas``).

A ``Progressing`` condition with reason ``ProgressDeadlineExceeded`` fails the
rollout. mgops adds one rule kubectl lacks: a pod of the *new* template that is
in CrashLoopBackOff, ImagePullBackOff or a similar state is reported at once,
instead of waiting out the deadline. Pods of the old template are not judged:
they may be why the restart was wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from mgops.clock import Clock
from mgops.errors import ActionTimeout, TargetError
from mgops.runbooks.kube.client import KubeClient, Obj
from mgops.runbooks.kube.scope import (
    TEMPLATE_HASH,
    current_replicaset,
    pods_of,
    replicasets_of,
)

STUCK_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


class RolloutFailed(TargetError):
    code = "rollout_failed"


@dataclass
class RolloutProgress:
    """One look at a rollout: kubectl's message plus the counts behind it."""

    deployment: str
    done: bool
    message: str
    desired: int = 0
    updated: int = 0
    available: int = 0
    total: int = 0
    stuck_pods: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "done": self.done,
            "message": self.message,
            "desired": self.desired,
            "updated": self.updated,
            "available": self.available,
            "replicas": self.total,
        }


ProgressCallback = Callable[[RolloutProgress], None]


def rollout_state(deployment: Obj) -> RolloutProgress:
    """kubectl's verdict on a deployment object (raises when the deadline passed)."""
    meta, spec = deployment["metadata"], deployment.get("spec", {})
    status = deployment.get("status") or {}
    name = meta["name"]
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0))
    available = int(status.get("availableReplicas", 0))
    total = int(status.get("replicas", 0))
    counts: dict[str, int] = {
        "desired": desired,
        "updated": updated,
        "available": available,
        "replicas": total,
    }

    def progress(done: bool, message: str) -> RolloutProgress:
        return RolloutProgress(name, done, message, desired, updated, available, total)

    if int(status.get("observedGeneration", 0)) < int(meta.get("generation", 0)):
        return progress(False, "waiting for the controller to see the new spec")
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "Progressing"
            and cond.get("reason") == "ProgressDeadlineExceeded"
        ):
            raise RolloutFailed(
                f"Deployment {name} exceeded its progress deadline: "
                f"{cond.get('message', '')} "
                f"({updated} of {desired} replicas updated, {available} available).",
                detail=counts,
            )
    if updated < desired:
        message = f"{updated} of {desired} new replicas updated"
    elif total > updated:
        message = f"{total - updated} old replicas pending termination"
    elif available < updated:
        message = f"{available} of {updated} updated replicas available"
    else:
        return progress(True, "successfully rolled out")
    return progress(False, message)


def stuck_pods(pods: list[Obj], template_hash: str | None) -> list[dict[str, str]]:
    """Pods of the given template whose containers wait in a state that won't heal."""
    found = []
    for pod in pods:
        labels = pod.get("metadata", {}).get("labels") or {}
        if template_hash and labels.get(TEMPLATE_HASH) != template_hash:
            continue
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        for container in statuses:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK_REASONS:
                found.append(
                    {
                        "pod": pod["metadata"]["name"],
                        "container": container.get("name", ""),
                        "reason": waiting["reason"],
                        "restarts": str(container.get("restartCount", 0)),
                    }
                )
    return found


def watch_rollout(
    client: KubeClient,
    namespace: str,
    name: str,
    *,
    clock: Clock,
    timeout: float,
    interval: float = 1.0,
    on_progress: ProgressCallback | None = None,
) -> RolloutProgress:
    """Poll until the rollout is done; raise ``RolloutFailed`` or ``ActionTimeout``."""
    started = clock.now()
    last: RolloutProgress | None = None
    while True:
        deployment = client.get_deployment(namespace, name)
        state = rollout_state(deployment)
        if not state.done:
            current = current_replicaset(
                replicasets_of(client, namespace, deployment), deployment
            )
            if current is not None:
                template = (current["metadata"].get("labels") or {}).get(TEMPLATE_HASH)
                state.stuck_pods = stuck_pods(
                    pods_of(client, namespace, deployment), template
                )
        if on_progress and (last is None or state.as_dict() != last.as_dict()):
            on_progress(state)
        last = state
        if state.done:
            return state
        if state.stuck_pods:
            listed = ", ".join(f"{p['pod']} ({p['reason']})" for p in state.stuck_pods)
            raise RolloutFailed(
                f"The rollout of {name} is failing: new pods cannot start: {listed}. "
                f"Check `mgops service status {name}` for events; `mgops service "
                f"rollback {name}` returns to the previous revision.",
                detail={"stuck_pods": state.stuck_pods, **state.as_dict()},
            )
        if (clock.now() - started).total_seconds() >= timeout:
            raise ActionTimeout(
                f"The rollout of {name} did not finish within {timeout:.0f}s: "
                f"{state.message}.",
                detail=state.as_dict(),
            )
        clock.sleep(interval)


@dataclass
class HealthResult:
    url: str | None
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "detail": self.detail}


def check_health(
    url: str | None,
    *,
    http: httpx.Client,
    clock: Clock,
    attempts: int = 3,
    wait: float = 2.0,
) -> HealthResult:
    """GET the service's health URL until it answers 2xx, a few times at most."""
    if not url:
        return HealthResult(None, True, "the policy gives no health URL; not checked")
    detail = ""
    for attempt in range(attempts):
        try:
            response = http.get(url)
        except httpx.HTTPError as exc:
            detail = f"no answer ({type(exc).__name__})"
        else:
            if response.is_success:
                return HealthResult(url, True, f"HTTP {response.status_code}")
            detail = f"HTTP {response.status_code}"
        if attempt + 1 < attempts:
            clock.sleep(wait)
    return HealthResult(url, False, detail)
