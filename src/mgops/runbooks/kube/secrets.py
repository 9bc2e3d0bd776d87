"""Runbook 1.3, secret update: force an ExternalSecret to sync, then restart.

The runbook annotates ``force-sync=$(date +%s)`` and restarts straight away; if the
operator's controller is slow or failing, the pods restart with the old secret
and nobody notices. mgops writes a fresh value, waits until the ExternalSecret's
``status.refreshTime`` moves past the value it had before (the only proof that a
sync happened), fails if the sync reports an error, and only then restarts the
deployments whose pods use the target Secret. It never reads the Secret itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mgops.audit import audited
from mgops.errors import ActionTimeout, TargetError
from mgops.runbooks.kube.client import Obj
from mgops.runbooks.kube.restart import (
    WatchOptions,
    refuse_if_paused,
    restart_and_watch,
    restart_stamp,
)
from mgops.runbooks.kube.scope import Scope

FORCE_SYNC = "force-sync"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def uses_secret(deployment: Obj, secret: str) -> bool:
    spec = deployment["spec"]["template"].get("spec", {})
    for volume in spec.get("volumes") or []:
        if (volume.get("secret") or {}).get("secretName") == secret:
            return True
    for container in (spec.get("containers") or []) + (
        spec.get("initContainers") or []
    ):
        for source in container.get("envFrom") or []:
            if (source.get("secretRef") or {}).get("name") == secret:
                return True
        for env in container.get("env") or []:
            if ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get(
                "name"
            ) == secret:
                return True
    return False


def sync_secret(
    scope: Scope,
    name: str,
    *,
    service: str | None = None,
    incident_id: int | None = None,
    dry_run: bool = False,
    watch: WatchOptions = WatchOptions(),
) -> dict[str, Any]:
    target = f"kube://{scope.client.context}/{scope.namespace}/externalsecrets/{name}"
    with audited(
        scope.store,
        kind="service.secret-sync",
        target=target,
        params={
            "externalsecret": name,
            "service": service,
            "namespace": scope.namespace,
        },
        incident_id=incident_id,
        dry_run=dry_run,
        clock=scope.clock,
    ) as action:
        external = scope.client.get_external_secret(scope.namespace, name)
        secret = (external.get("spec", {}).get("target") or {}).get("name") or name
        users = [
            d["metadata"]["name"]
            for d in scope.client.list_deployments(scope.namespace)
            if uses_secret(d, secret)
        ]
        services = _services_to_restart(scope, users, service)
        by_deployment = {scope.service(s).deployment for s in services}
        for svc in services:
            refuse_if_paused(scope.deployment(scope.service(svc)), "restart")
        before = parse_time((external.get("status") or {}).get("refreshTime"))
        result: dict[str, Any] = {
            "externalsecret": name,
            "secret": secret,
            "refresh_before": before.isoformat() if before else None,
            "restart": services,
            # Users outside the policy are named, never restarted behind its back.
            "not_restarted": sorted(set(users) - by_deployment),
            "dry_run": dry_run,
        }
        action.result.update(result)
        if dry_run:
            return result

        # refreshTime has one-second resolution: a sync in the same second as the
        # previous one would look like no sync at all.
        if before and scope.clock.now() - before < timedelta(seconds=1):
            scope.clock.sleep(1.0)
        mark = scope.clock.now().strftime("%Y%m%dT%H%M%S.%fZ")
        watch.step(f"annotating {FORCE_SYNC}={mark}")
        patched = scope.client.patch_external_secret(
            scope.namespace, name, {"metadata": {"annotations": {FORCE_SYNC: mark}}}
        )
        if (patched["metadata"].get("annotations") or {}).get(FORCE_SYNC) != mark:
            raise TargetError(f"The {FORCE_SYNC} annotation did not stick on {name}.")
        result["refresh_after"] = _wait_refreshed(
            scope, name, before, watch
        ).isoformat()

        stamp = restart_stamp(scope.clock)
        result["restarts"] = {
            svc: restart_and_watch(scope, scope.service(svc), stamp, watch)
            for svc in services
        }
        action.result.update(result)
        return result


def _services_to_restart(
    scope: Scope, users: list[str], explicit: str | None
) -> list[str]:
    if explicit:
        scope.service(explicit)
        return [explicit]
    by_deployment = {s.deployment: s.name for s in scope.policy.services}
    return [by_deployment[d] for d in users if d in by_deployment]


def _wait_refreshed(
    scope: Scope, name: str, before: datetime | None, watch: WatchOptions
) -> datetime:
    started = scope.clock.now()
    while True:
        status = (
            scope.client.get_external_secret(scope.namespace, name).get("status") or {}
        )
        refreshed = parse_time(status.get("refreshTime"))
        if refreshed and (before is None or refreshed > before):
            ready: Obj = next(
                (c for c in status.get("conditions") or [] if c.get("type") == "Ready"),
                {},
            )
            if ready.get("status") == "False":
                raise TargetError(
                    f"ExternalSecret {name} synced with an error "
                    f"({ready.get('reason')}: {ready.get('message')}); no pod was "
                    "restarted."
                )
            return refreshed
        if (scope.clock.now() - started).total_seconds() >= watch.timeout:
            raise ActionTimeout(
                f"ExternalSecret {name} did not refresh within {watch.timeout:.0f}s "
                "(status.refreshTime did not advance). The secret was not confirmed, "
                "so no pod was restarted; check the external-secrets controller."
            )
        scope.clock.sleep(watch.interval)
