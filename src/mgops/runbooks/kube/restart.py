"""Runbook 1.1, service restarts: rolling, hard (with resume), and a single pod.

Rolling restart: a merge patch of the pod template's
``kubectl.kubernetes.io/restartedAt`` annotation (what ``kubectl rollout restart``
sets; other annotations are untouched), then the rollout is watched to its end and
the service's health URL is asked. A paused deployment is refused: the patch would
roll out nothing now and everything at the next resume.

Hard restart: the runbook scales to 0 and later back "to the original", which is
lost if the operator's shell dies in between. mgops writes the original count to
the store (the audit row, committed before anything changes) and to the
deployment's ``mgops.io/hard-restart-original-replicas`` annotation, then scales to
0, waits until no pod remains, and scales back while removing the annotation in the
same patch. ``resume=True`` finishes an interrupted one from the stored count.

Single pod: the Eviction API, so disruption budgets are respected; ``force``
deletes instead. Either way the command waits until a replacement pod is Ready.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from mgops.audit import audited
from mgops.errors import (
    ActionRefused,
    ActionTimeout,
    Conflict,
    InputError,
    NotFound,
    TargetError,
)
from mgops.policy.schema import Service
from mgops.runbooks.kube.client import Obj
from mgops.runbooks.kube.rollout import (
    ProgressCallback,
    RolloutFailed,
    check_health,
    stuck_pods,
    watch_rollout,
)
from mgops.runbooks.kube.scope import (
    RESTARTED_AT,
    Scope,
    alive,
    annotations_of,
    pod_is_ready,
    pods_of,
    selector_of,
)
from mgops.store.models import Action

HARD_MARK = "mgops.io/hard-restart-original-replicas"
HARD_KIND = "service.restart-hard"
OUTAGE_WARNING = (
    "A hard restart is an outage: every pod stops before any new one starts, and "
    "pod disruption budgets are not consulted."
)


@dataclass(frozen=True)
class WatchOptions:
    """How long and how a command follows what it changed."""

    timeout: float = 600.0
    interval: float = 1.0
    on_progress: ProgressCallback | None = None
    on_step: Callable[[str], None] | None = None
    http: httpx.Client | None = None

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
    health = check_health(health_url, http=watch.http, clock=scope.clock)
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
    stamp = scope.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
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
    result = {"generation": patched["metadata"].get("generation")}
    result.update(finish_rollout(scope, service.deployment, service.health_url, watch))
    return result


# -- hard restart -------------------------------------------------------------------


def hard_restart(
    scope: Scope,
    name: str,
    *,
    incident_id: int | None = None,
    dry_run: bool = False,
    watch: WatchOptions = WatchOptions(),
) -> dict[str, Any]:
    service = scope.service(name)
    deployment = scope.deployment(service)
    original = int(deployment.get("spec", {}).get("replicas", 1))
    params = {
        "mode": "hard",
        "original_replicas": original,
        "namespace": scope.namespace,
    }
    with audited(
        scope.store,
        kind=HARD_KIND,
        target=scope.target(service.deployment),
        params=params,
        incident_id=incident_id,
        dry_run=dry_run,
        clock=scope.clock,
    ) as action:
        refuse_if_paused(deployment, "hard restart")
        recorded = annotations_of(deployment).get(HARD_MARK)
        if recorded is not None:
            raise ActionRefused(
                f"An interrupted hard restart of {service.deployment} is recorded "
                f"on the deployment (original {recorded} replicas). Finish it with "
                f"`mgops service restart {name} --hard --resume`; nothing was "
                "changed."
            )
        if original == 0:
            raise ActionRefused(
                f"{service.deployment} runs 0 replicas, so there is nothing to restart "
                "and no count to go back to. Use `mgops service scale`."
            )
        result: dict[str, Any] = {
            "service": name,
            "deployment": service.deployment,
            "namespace": scope.namespace,
            "mode": "hard",
            "original_replicas": original,
            "warning": OUTAGE_WARNING,
            "dry_run": dry_run,
        }
        if dry_run:
            action.result.update(result)
            return result

        # The store already holds the count (the audit row above); the annotation
        # keeps it with the deployment for anyone who looks with kubectl.
        watch.step(f"recording the original count ({original}) on the deployment")
        marked = scope.client.patch_deployment(
            scope.namespace,
            service.deployment,
            {"metadata": {"annotations": {HARD_MARK: str(original)}}},
        )
        if annotations_of(marked).get(HARD_MARK) != str(original):
            raise TargetError(
                f"The original count did not stick on {service.deployment}; "
                "nothing was scaled."
            )

        watch.step("scaling to 0")
        scaled = scope.client.scale_deployment(scope.namespace, service.deployment, 0)
        if int(scaled.get("spec", {}).get("replicas", -1)) != 0:
            raise TargetError(f"{service.deployment} did not take replicas=0.")
        watch.step("scaled to 0; waiting until no pod remains")
        _wait_no_pods(scope, marked, watch)

        result.update(
            _scale_back(scope, service.deployment, original, service.health_url, watch)
        )
        action.result.update(result)
        return result


def resume_hard_restart(
    scope: Scope,
    name: str,
    *,
    incident_id: int | None = None,
    dry_run: bool = False,
    watch: WatchOptions = WatchOptions(),
) -> dict[str, Any]:
    service = scope.service(name)
    target = scope.target(service.deployment)
    deployment = scope.deployment(service)
    on_deployment = annotations_of(deployment).get(HARD_MARK)
    in_store = recorded_original(scope, target)
    if on_deployment is None and in_store is None:
        raise NotFound(
            f"No interrupted hard restart of {service.deployment} is recorded, neither "
            "on the deployment nor in the store; nothing to resume."
        )
    if (
        on_deployment is not None
        and in_store is not None
        and int(on_deployment) != in_store
    ):
        raise Conflict(
            f"The deployment says the original count was {on_deployment}, the "
            f"store says {in_store}. Decide which is right and scale with "
            "`mgops service scale`."
        )
    original = int(on_deployment) if on_deployment is not None else int(in_store or 0)
    current = int(deployment.get("spec", {}).get("replicas", 0))
    params = {
        "mode": "hard",
        "resume": True,
        "original_replicas": original,
        "namespace": scope.namespace,
    }
    with audited(
        scope.store,
        kind=HARD_KIND,
        target=target,
        params=params,
        incident_id=incident_id,
        dry_run=dry_run,
        clock=scope.clock,
    ) as action:
        result: dict[str, Any] = {
            "service": name,
            "deployment": service.deployment,
            "namespace": scope.namespace,
            "mode": "hard",
            "resumed": True,
            "original_replicas": original,
            "replicas_found": current,
            "recorded_on": [
                w
                for w, v in (("deployment", on_deployment), ("store", in_store))
                if v is not None
            ],
            "dry_run": dry_run,
        }
        if dry_run:
            action.result.update(result)
            return result
        if current == 0:
            watch.step("waiting until no pod remains")
            _wait_no_pods(scope, deployment, watch)
        result.update(
            _scale_back(scope, service.deployment, original, service.health_url, watch)
        )
        action.result.update(result)
        return result


def recorded_original(scope: Scope, target: str) -> int | None:
    """The original count of the latest hard restart of ``target`` that did not end."""
    with scope.store.session() as session:
        rows = session.scalars(
            select(Action)
            .where(
                Action.kind == HARD_KIND,
                Action.target == target,
                Action.dry_run.is_(False),
            )
            .order_by(Action.id.desc())
        )
        for row in rows:
            if row.outcome == "refused":
                continue
            if row.outcome in ("running", "failed", "interrupted"):
                value = int((row.params or {}).get("original_replicas") or 0)
                return value or None
            return None
    return None


def _wait_no_pods(scope: Scope, deployment: Obj, watch: WatchOptions) -> None:
    started = scope.clock.now()
    while True:
        remaining = pods_of(scope.client, scope.namespace, deployment)
        if not remaining:
            return
        watch.step(f"{len(remaining)} pods still terminating")
        if (scope.clock.now() - started).total_seconds() >= watch.timeout:
            raise ActionTimeout(
                f"{len(remaining)} pods of {deployment['metadata']['name']} were still "
                f"there after {watch.timeout:.0f}s. The original count is stored; run "
                "the command again with --resume to scale back."
            )
        scope.clock.sleep(watch.interval)


def _scale_back(
    scope: Scope,
    deployment: str,
    original: int,
    health_url: str | None,
    watch: WatchOptions,
) -> dict[str, Any]:
    watch.step(f"scaling back to {original}")
    # One patch: the count comes back and the marker goes, or neither happens.
    restored = scope.client.patch_deployment(
        scope.namespace,
        deployment,
        {
            "metadata": {"annotations": {HARD_MARK: None}},
            "spec": {"replicas": original},
        },
    )
    if int(
        restored["spec"].get("replicas", -1)
    ) != original or HARD_MARK in annotations_of(restored):
        raise TargetError(
            f"{deployment} did not take replicas={original}; run with --resume again."
        )
    return {
        "restored_replicas": original,
        **finish_rollout(scope, deployment, health_url, watch),
    }


# -- one pod ---------------------------------------------------------------------------


def restart_pod(
    scope: Scope,
    name: str,
    pod_name: str,
    *,
    force: bool = False,
    incident_id: int | None = None,
    dry_run: bool = False,
    watch: WatchOptions = WatchOptions(),
) -> dict[str, Any]:
    service = scope.service(name)
    params = {"pod": pod_name, "force": force, "namespace": scope.namespace}
    with audited(
        scope.store,
        kind="service.restart-pod",
        target=scope.target(service.deployment),
        params=params,
        incident_id=incident_id,
        dry_run=dry_run,
        clock=scope.clock,
    ) as action:
        deployment = scope.deployment(service)
        pod = scope.client.get_pod(scope.namespace, pod_name)
        if not _pod_matches(pod, deployment):
            raise InputError(
                f"Pod {pod_name} does not belong to {service.deployment} (its "
                f"labels do not match {selector_of(deployment)})."
            )
        before = {
            p["metadata"]["name"]
            for p in pods_of(scope.client, scope.namespace, deployment)
        }
        how = "delete" if force else "evict"
        result: dict[str, Any] = {
            "service": name,
            "pod": pod_name,
            "method": how,
            "dry_run": dry_run,
        }
        if dry_run:
            action.result.update(result)
            return result

        if force:
            scope.client.delete_pod(scope.namespace, pod_name)
        else:
            scope.client.evict_pod(scope.namespace, pod_name)
        watch.step(
            f"{pod_name} {'deleted' if force else 'evicted'}; "
            "waiting for its replacement"
        )
        result["replacement"] = _wait_replacement(
            scope, deployment, pod_name, before, watch
        )
        action.result.update(result)
        return result


def _pod_matches(pod: Obj, deployment: Obj) -> bool:
    labels = pod.get("metadata", {}).get("labels") or {}
    wanted = (deployment.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def _wait_replacement(
    scope: Scope, deployment: Obj, old: str, before: set[str], watch: WatchOptions
) -> str:
    started = scope.clock.now()
    while True:
        pods = pods_of(scope.client, scope.namespace, deployment)
        fresh = [p for p in alive(pods) if p["metadata"]["name"] not in before]
        ready = [p["metadata"]["name"] for p in fresh if pod_is_ready(p)]
        old_alive = any(p["metadata"]["name"] == old for p in alive(pods))
        if ready and not old_alive:
            return str(ready[0])
        stuck = stuck_pods(fresh, None)
        if stuck:
            listed = ", ".join(f"{p['pod']} ({p['reason']})" for p in stuck)
            raise RolloutFailed(
                f"The replacement for {old} cannot start: {listed}.",
                detail={"stuck_pods": stuck},
            )
        if (scope.clock.now() - started).total_seconds() >= watch.timeout:
            raise ActionTimeout(
                f"No Ready replacement for {old} within {watch.timeout:.0f}s."
            )
        scope.clock.sleep(watch.interval)
