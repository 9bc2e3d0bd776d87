"""Runbook 1.2, scaling: policy bounds, the HPA, the CPU guard, the watch after.

- The policy's min and max replicas bound every request; ``force`` does not lift
  them (change the policy instead).
- A deployment with a HorizontalPodAutoscaler is not scaled directly: the HPA
  would put the count back within seconds. mgops sets the HPA's ``minReplicas`` to
  N (raising ``maxReplicas`` when N is above it), which is the runbook's "update
  HPA min"; the HPA then scales. It refuses, with the reason, what bounds cannot
  express (zero replicas).
- Scaling down first asks Prometheus for the CPU per pod and refuses when the
  projected utilisation at N replicas is above 70% (``force`` overrides it, and
  the result says it was overridden). Without Prometheus the guard cannot run, so
  scaling down is refused unless forced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mgops.audit import audited
from mgops.errors import ActionRefused, ActionTimeout, TargetError
from mgops.runbooks.kube.client import Obj
from mgops.runbooks.kube.metrics import (
    SCALE_DOWN_CPU_LIMIT,
    ServiceQueries,
    WatchReport,
    WatchSample,
    project_cpu,
    watch_service,
)
from mgops.runbooks.kube.restart import WatchOptions
from mgops.runbooks.kube.rollout import watch_rollout
from mgops.runbooks.kube.scope import Scope, hpa_for
from mgops.runbooks.prometheus import PrometheusClient


def scale(
    scope: Scope,
    name: str,
    replicas: int,
    *,
    prometheus: PrometheusClient | None,
    force: bool = False,
    incident_id: int | None = None,
    dry_run: bool = False,
    watch: WatchOptions = WatchOptions(),
    window: str = "5m",
) -> dict[str, Any]:
    service = scope.service(name)
    if not service.min_replicas <= replicas <= service.max_replicas:
        raise ActionRefused(
            f"The policy keeps {name} between {service.min_replicas} and "
            f"{service.max_replicas} replicas; {replicas} is outside. Nothing was "
            "changed (change the policy if this is really needed)."
        )
    params = {"replicas": replicas, "force": force, "namespace": scope.namespace}
    with audited(
        scope.store,
        kind="service.scale",
        target=scope.target(service.deployment),
        params=params,
        incident_id=incident_id,
        dry_run=dry_run,
        clock=scope.clock,
    ) as action:
        deployment = scope.deployment(service)
        current = int(deployment["spec"].get("replicas", 1))
        hpa = hpa_for(scope.client, scope.namespace, service.deployment)
        result: dict[str, Any] = {
            "service": name,
            "deployment": service.deployment,
            "namespace": scope.namespace,
            "from": current,
            "to": replicas,
            "dry_run": dry_run,
        }
        if replicas < current:
            queries = ServiceQueries(scope.namespace, service.deployment, name, window)
            result["cpu_guard"] = _cpu_guard(prometheus, queries, name, replicas, force)

        if hpa is not None:
            result["hpa"] = _scale_through_hpa(
                scope, hpa, replicas, current, dry_run, watch
            )
        elif not dry_run:
            scaled = scope.client.scale_deployment(
                scope.namespace, service.deployment, replicas
            )
            if int(scaled.get("spec", {}).get("replicas", -1)) != replicas:
                raise TargetError(
                    f"{service.deployment} did not take replicas={replicas}."
                )
            watch.step(f"scaled to {replicas}; waiting for the pods")
            progress = watch_rollout(
                scope.client,
                scope.namespace,
                service.deployment,
                clock=scope.clock,
                timeout=watch.timeout,
                interval=watch.interval,
                on_progress=watch.on_progress,
            )
            result["rollout"] = progress.as_dict()
        action.result.update(result)
        return result


def _cpu_guard(
    prometheus: PrometheusClient | None,
    queries: ServiceQueries,
    name: str,
    replicas: int,
    force: bool,
) -> dict[str, Any]:
    if prometheus is None:
        if force:
            return {
                "checked": False,
                "overridden": True,
                "detail": "no Prometheus; forced",
            }
        raise ActionRefused(
            f"Scaling {name} down needs the CPU per pod from Prometheus, and no "
            "Prometheus URL is set (--prometheus-url or MGOPS_PROMETHEUS_URL). Nothing "
            "was changed; pass --force to scale down without the check."
        )
    projection = project_cpu(prometheus, queries, replicas)
    guard = {"checked": True, **projection.as_dict(), "overridden": False}
    if not projection.per_pod:
        if force:
            return {**guard, "overridden": True, "detail": "no CPU data; forced"}
        raise ActionRefused(
            f"Prometheus has no CPU data for the pods of {queries.deployment}, so the "
            "scale-down guard cannot run. Nothing was changed; pass --force to scale "
            "down without it."
        )
    if projection.projected > SCALE_DOWN_CPU_LIMIT:
        if force:
            return {**guard, "overridden": True}
        raise ActionRefused(
            f"At {replicas} replicas {name} would run at about "
            f"{projection.projected:.0f}% CPU ({len(projection.per_pod)} pods now use "
            f"{projection.total:.0f}% of one pod's request in total); the runbook's "
            f"limit for scaling down is {SCALE_DOWN_CPU_LIMIT:.0f}%. Nothing was "
            "changed; pass --force to scale down anyway.",
            detail=guard,
        )
    return guard


def _scale_through_hpa(
    scope: Scope,
    hpa: Obj,
    replicas: int,
    current: int,
    dry_run: bool,
    watch: WatchOptions,
) -> dict[str, Any]:
    name = hpa["metadata"]["name"]
    low = int(hpa["spec"].get("minReplicas", 1))
    high = int(hpa["spec"]["maxReplicas"])
    if replicas == 0:
        raise ActionRefused(
            f"HPA {name} manages this deployment and cannot keep it at 0 replicas; a "
            "direct scale to 0 would be undone. Nothing was changed."
        )
    new_high = max(high, replicas)
    plan = {
        "name": name,
        "before": {"minReplicas": low, "maxReplicas": high},
        "after": {"minReplicas": replicas, "maxReplicas": new_high},
        "why": (
            f"HPA {name} manages the replica count and would revert a direct scale; "
            "its bounds were changed instead"
        ),
    }
    if replicas < current:
        plan["note"] = (
            f"the HPA may now go down to {replicas}; it does so when its metrics allow"
        )
    if dry_run:
        return plan

    patched = scope.client.patch_hpa(
        scope.namespace,
        name,
        {"spec": {"minReplicas": replicas, "maxReplicas": new_high}},
    )
    spec = patched.get("spec", {})
    if (spec.get("minReplicas"), spec.get("maxReplicas")) != (replicas, new_high):
        raise TargetError(f"HPA {name} did not take minReplicas={replicas}.")
    if replicas > current:
        watch.step(f"HPA {name} minimum is {replicas}; waiting for it to scale up")
        _wait_hpa_scaled(scope, hpa, replicas, watch)
        plan["rollout"] = watch_rollout(
            scope.client,
            scope.namespace,
            hpa["spec"]["scaleTargetRef"]["name"],
            clock=scope.clock,
            timeout=watch.timeout,
            interval=watch.interval,
            on_progress=watch.on_progress,
        ).as_dict()
    return plan


def _wait_hpa_scaled(
    scope: Scope, hpa: Obj, replicas: int, watch: WatchOptions
) -> None:
    target = hpa["spec"]["scaleTargetRef"]["name"]
    started = scope.clock.now()
    while True:
        deployment = scope.client.get_deployment(scope.namespace, target)
        if int(deployment["spec"].get("replicas", 0)) >= replicas:
            return
        if (scope.clock.now() - started).total_seconds() >= watch.timeout:
            raise ActionTimeout(
                f"HPA {hpa['metadata']['name']} now has minReplicas={replicas}, but it "
                f"did not scale {target} within {watch.timeout:.0f}s."
            )
        scope.clock.sleep(watch.interval)


def watch_after_scale(
    scope: Scope,
    name: str,
    *,
    prometheus: PrometheusClient,
    duration: float,
    interval: float = 30.0,
    incident_id: int | None = None,
    window: str = "5m",
    on_sample: Callable[[WatchSample], None] | None = None,
) -> WatchReport:
    """Runbook 1.2 step 3: error rate, latency and CPU for ``duration`` seconds."""
    service = scope.service(name)
    queries = ServiceQueries(scope.namespace, service.deployment, name, window)
    with audited(
        scope.store,
        kind="service.scale-watch",
        target=scope.target(service.deployment),
        params={"duration_s": duration, "interval_s": interval},
        incident_id=incident_id,
        clock=scope.clock,
    ) as action:
        report = watch_service(
            prometheus,
            queries,
            clock=scope.clock,
            duration=duration,
            interval=interval,
            on_sample=on_sample,
        )
        action.result.update(report.as_dict())
        if not report.ok:
            action.outcome = "regressed"
        return report
