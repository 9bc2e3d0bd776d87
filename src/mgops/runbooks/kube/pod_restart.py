"""Runbook 1.1, single pod restart, through the Eviction API.

The runbook deletes the pod, which ignores PodDisruptionBudgets. mgops evicts it,
so a budget that allows no disruption refuses (``DisruptionBudgetBlocks``);
``force`` deletes instead. Either way the command waits until a new pod of the
same deployment is Ready and the old one is gone.
"""

from __future__ import annotations

from typing import Any

from mgops.audit import audited
from mgops.errors import ActionTimeout, InputError
from mgops.runbooks.kube.client import Obj
from mgops.runbooks.kube.restart import WatchOptions
from mgops.runbooks.kube.rollout import RolloutFailed, stuck_pods
from mgops.runbooks.kube.scope import (
    Scope,
    alive,
    pod_is_ready,
    pods_of,
    selector_of,
)


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
