"""Runbook 1.1, hard restart: scale to 0 and back, without losing "the original".

The runbook scales to 0 and later back "to the original", which is lost if the
operator's shell dies in between. mgops writes the original count to the store
(the audit row, committed before anything changes) and to the deployment's
``mgops.io/hard-restart-original-replicas`` annotation, then scales to 0, waits
until no pod remains, and scales back while removing the annotation in the same
patch. ``resume_hard_restart`` finishes an interrupted one from the stored count.
It is an outage, and it does not consult disruption budgets: the CLI says so and
asks for confirmation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mgops.audit import audited
from mgops.errors import ActionRefused, ActionTimeout, Conflict, NotFound, TargetError
from mgops.runbooks.kube.client import Obj
from mgops.runbooks.kube.restart import WatchOptions, finish_rollout, refuse_if_paused
from mgops.runbooks.kube.scope import Scope, annotations_of, pods_of
from mgops.store.models import Action

HARD_MARK = "mgops.io/hard-restart-original-replicas"
HARD_KIND = "service.restart-hard"
OUTAGE_WARNING = (
    "A hard restart is an outage: every pod stops before any new one starts, and "
    "pod disruption budgets are not consulted."
)


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
