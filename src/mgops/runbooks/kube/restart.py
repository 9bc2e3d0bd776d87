"""Runbook 1.1, rolling restart, and what every restart shares.

A rolling restart is a merge patch of the pod template's
``kubectl.kubernetes.io/restartedAt`` annotation (what ``kubectl rollout restart``
sets; other annotations are untouched); then the rollout is watched to its end
and the service's health URL is asked. A paused deployment is refused: the patch
would roll out nothing now and everything at the next resume (case R7).

Hard restarts live in ``hard.py``, single pods in ``pod_restart.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mgops.audit import audited
from mgops.clock import Clock
from mgops.errors import (
    ActionRefused,
    TargetError,
)
from mgops.policy.schema import Service
from mgops.runbooks.kube.client import Obj
from mgops.runbooks.kube.rollout import (
    ProgressCallback,
    check_health,
    watch_rollout,
)
from mgops.runbooks.kube.scope import (
    RESTARTED_AT,
    Scope,
)


@dataclass(frozen=True)
class WatchOptions:
    """How long and how a command follows what it changed."""

    timeout: float = 600.0
    interval: float = 1.0
    on_progress: ProgressCallback | None = None
    on_step: Callable[[str], None] | None = None
    http: httpx.Client | None = None
    health_attempts: int = 3
    health_wait: float = 2.0

    def step(self, text: str) -> None:
        if self.on_step:
            self.on_step(text)


def refuse_if_paused(deployment: Obj, action: str) -> None:
    if not deployment.get("spec", {}).get("paused"):
        return
    name = deployment["metadata"]["name"]
    namespace = deployment["metadata"].get("namespace", "")
    raise ActionRefused(
        f"Deployment {name} is paused (spec.paused is true), so a {action} would roll "
        "out nothing now and everything at the next resume. Nothing was changed. Find "
        "out who paused it and why; resume it deliberately with `kubectl rollout "
        f"resume deployment/{name} -n {namespace}` before restarting."
    )


def finish_rollout(
    scope: Scope, deployment: str, health_url: str | None, watch: WatchOptions
) -> dict[str, Any]:
    """Watch the rollout, then ask the health URL; raise when either fails."""
    watch.step("watching the rollout")
    progress = watch_rollout(
        scope.client,
        scope.namespace,
        deployment,
        clock=scope.clock,
        timeout=watch.timeout,
        interval=watch.interval,
        on_progress=watch.on_progress,
    )
    result: dict[str, Any] = {"rollout": progress.as_dict()}
    if watch.http is None:
        result["health"] = {"url": health_url, "ok": None, "detail": "not checked"}
        return result
    watch.step("checking health")
    health = check_health(
        health_url,
        http=watch.http,
        clock=scope.clock,
        attempts=watch.health_attempts,
        wait=watch.health_wait,
    )
    result["health"] = health.as_dict()
    if not health.ok:
        raise TargetError(
            f"{deployment} rolled out, but its health URL {health_url} failed: "
            f"{health.detail}.",
            detail=result,
        )
    return result


def restart_patch(stamp: str, extra: dict[str, str] | None = None) -> Obj:
    """The merge patch ``kubectl rollout restart`` sends, plus optional annotations."""
    marks = {RESTARTED_AT: stamp, **(extra or {})}
    return {"spec": {"template": {"metadata": {"annotations": marks}}}}


def rolling_restart(
    scope: Scope,
    name: str,
    *,
    incident_id: int | None = None,
    dry_run: bool = False,
    watch: WatchOptions = WatchOptions(),
) -> dict[str, Any]:
    service = scope.service(name)
    stamp = restart_stamp(scope.clock)
    params = {"mode": "rolling", "restartedAt": stamp, "namespace": scope.namespace}
    with audited(
        scope.store,
        kind="service.restart",
        target=scope.target(service.deployment),
        params=params,
        incident_id=incident_id,
        dry_run=dry_run,
        clock=scope.clock,
    ) as action:
        deployment = scope.deployment(service)
        refuse_if_paused(deployment, "restart")
        result: dict[str, Any] = {
            "service": name,
            "deployment": service.deployment,
            "namespace": scope.namespace,
            "mode": "rolling",
            "patch": restart_patch(stamp),
            "dry_run": dry_run,
        }
        if dry_run:
            action.result.update(result)
            return result
        result.update(restart_and_watch(scope, service, stamp, watch))
        action.result.update(result)
        return result


def restart_and_watch(
    scope: Scope,
    service: Service,
    stamp: str,
    watch: WatchOptions,
    extra_annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Patch the template's restart annotation, check it stuck, follow the rollout."""
    # restartedAt has one-second resolution, as kubectl writes it: a second restart
    # within the same second would leave the template unchanged and roll nothing.
    current = scope.deployment(service)["spec"]["template"].get("metadata") or {}
    if (current.get("annotations") or {}).get(RESTARTED_AT) == stamp:
        scope.clock.sleep(1.0)
        stamp = restart_stamp(scope.clock)

    watch.step(f"restarting {service.deployment}")
    patched = scope.client.patch_deployment(
        scope.namespace, service.deployment, restart_patch(stamp, extra_annotations)
    )
    marks = patched["spec"]["template"].get("metadata", {}).get("annotations") or {}
    if marks.get(RESTARTED_AT) != stamp:
        raise TargetError(
            f"The restart annotation did not stick on {service.deployment}; the "
            "cluster shows a different template. Nothing will roll out."
        )
    result = {"restartedAt": stamp, "generation": patched["metadata"].get("generation")}
    result.update(finish_rollout(scope, service.deployment, service.health_url, watch))
    return result


def restart_stamp(clock: Clock) -> str:
    """The restartedAt value: RFC 3339 in UTC, seconds, as kubectl writes it."""
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
