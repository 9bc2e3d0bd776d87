"""Runbook 1.1 step 1 and 4.2 "check pod status": one look at a service.

``service_status`` gathers what the runbook asks for with several kubectl
commands: the deployment and its replica counts, its pods with readiness,
restarts and waiting reasons, its HPA, the rollout revision, and the recent
events about any of them. ``overview`` does the short form for every service of
the policy, and says so when a deployment is missing rather than failing.
"""

from __future__ import annotations

from typing import Any

from mgops.errors import NotFound
from mgops.runbooks.kube.client import Obj
from mgops.runbooks.kube.rollout import STUCK_REASONS
from mgops.runbooks.kube.scope import (
    Scope,
    hpa_for,
    pod_is_ready,
    pods_of,
    replicasets_of,
    revision_of,
)


def _counts(deployment: Obj) -> dict[str, Any]:
    status = deployment.get("status") or {}
    return {
        "desired": int(deployment["spec"].get("replicas", 1)),
        "ready": int(status.get("readyReplicas", 0)),
        "updated": int(status.get("updatedReplicas", 0)),
        "available": int(status.get("availableReplicas", 0)),
        "paused": bool(deployment["spec"].get("paused")),
        "revision": revision_of(deployment),
    }


def _pod_row(pod: Obj) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    reason = (pod.get("status") or {}).get("phase", "Pending")
    for container in statuses:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            reason = waiting["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return {
        "name": pod["metadata"]["name"],
        "ready": pod_is_ready(pod),
        "status": reason,
        "restarts": sum(int(c.get("restartCount", 0)) for c in statuses),
        "stuck": reason in STUCK_REASONS,
        "node": pod.get("spec", {}).get("nodeName"),
        "created": pod["metadata"].get("creationTimestamp"),
    }


def _hpa_row(hpa: Obj | None) -> dict[str, Any] | None:
    if hpa is None:
        return None
    status = hpa.get("status") or {}
    return {
        "name": hpa["metadata"]["name"],
        "min": int(hpa["spec"].get("minReplicas", 1)),
        "max": int(hpa["spec"]["maxReplicas"]),
        "current": status.get("currentReplicas"),
        "desired": status.get("desiredReplicas"),
    }


def service_status(scope: Scope, name: str, *, events: int = 10) -> dict[str, Any]:
    service = scope.service(name)
    deployment = scope.deployment(service)
    pods = pods_of(scope.client, scope.namespace, deployment)
    sets = replicasets_of(scope.client, scope.namespace, deployment)
    related = {deployment["metadata"]["uid"]}
    related.update(rs["metadata"]["uid"] for rs in sets)
    related.update(p["metadata"]["uid"] for p in pods)
    hpa = hpa_for(scope.client, scope.namespace, service.deployment)
    if hpa:
        related.add(hpa["metadata"]["uid"])
    recent = [
        e
        for e in scope.client.list_events(scope.namespace)
        if (e.get("involvedObject") or {}).get("uid") in related
    ]
    recent.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    conditions = {
        c.get("type"): f"{c.get('status')} ({c.get('reason')})"
        for c in (deployment.get("status") or {}).get("conditions") or []
    }
    return {
        "service": name,
        "deployment": service.deployment,
        "namespace": scope.namespace,
        **_counts(deployment),
        "policy": {"min": service.min_replicas, "max": service.max_replicas},
        "conditions": conditions,
        "pods": [_pod_row(p) for p in pods],
        "hpa": _hpa_row(hpa),
        "events": [
            {
                "at": e.get("lastTimestamp") or e.get("eventTime"),
                "type": e.get("type"),
                "reason": e.get("reason"),
                "object": _involved(e),
                "message": e.get("message"),
                "count": e.get("count", 1),
            }
            for e in recent[-events:]
        ],
    }


def _involved(event: Obj) -> str:
    about = event.get("involvedObject") or {}
    return f"{about.get('kind')}/{about.get('name')}"


def overview(scope: Scope) -> list[dict[str, Any]]:
    deployments = {
        d["metadata"]["name"]: d for d in scope.client.list_deployments(scope.namespace)
    }
    hpas = {
        (h["spec"].get("scaleTargetRef") or {}).get("name"): h
        for h in scope.client.list_hpas(scope.namespace)
    }
    rows = []
    for service in scope.policy.services:
        deployment = deployments.get(service.deployment)
        row: dict[str, Any] = {
            "service": service.name,
            "deployment": service.deployment,
            "found": deployment is not None,
        }
        if deployment is not None:
            row.update(_counts(deployment))
            row["hpa"] = _hpa_row(hpas.get(service.deployment))
            row["healthy"] = row["ready"] >= row["desired"] and not row["paused"]
        rows.append(row)
    return rows


def require_found(rows: list[dict[str, Any]]) -> None:
    if not any(r["found"] for r in rows):
        raise NotFound(
            "None of the policy's services has a deployment in this namespace."
        )
