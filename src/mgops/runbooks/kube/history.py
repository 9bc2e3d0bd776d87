"""Runbook 4.2, "rollback if recent deployment": revisions and going back to one.

A deployment's revisions are its ReplicaSets (owned through a controller
reference), numbered by their ``deployment.kubernetes.io/revision`` annotation.
Rolling back copies a ReplicaSet's pod template into the deployment, as
``kubectl rollout undo`` does, minus the ``pod-template-hash`` label the
controller adds; the controller then gives that ReplicaSet the next revision.
"""

from __future__ import annotations

import copy
from typing import Any

from mgops.audit import audited
from mgops.errors import Conflict, NotFound
from mgops.runbooks.kube.client import JSON_PATCH, Obj
from mgops.runbooks.kube.restart import WatchOptions, finish_rollout, refuse_if_paused
from mgops.runbooks.kube.scope import TEMPLATE_HASH, Scope, replicasets_of, revision_of

CHANGE_CAUSE = "kubernetes.io/change-cause"


def _bare_template(rs: Obj) -> Obj:
    template: Obj = copy.deepcopy(rs["spec"]["template"])
    labels = template.get("metadata", {}).get("labels") or {}
    labels.pop(TEMPLATE_HASH, None)
    return template


def history(scope: Scope, name: str) -> list[dict[str, Any]]:
    service = scope.service(name)
    deployment = scope.deployment(service)
    current = revision_of(deployment)
    rows = []
    for rs in replicasets_of(scope.client, scope.namespace, deployment):
        spec = rs["spec"]
        containers = spec["template"].get("spec", {}).get("containers") or []
        annotations = rs["metadata"].get("annotations") or {}
        rows.append(
            {
                "revision": revision_of(rs),
                "replicaset": rs["metadata"]["name"],
                "images": [c.get("image", "") for c in containers],
                "created": rs["metadata"].get("creationTimestamp"),
                "replicas": int(spec.get("replicas", 0)),
                "ready": int((rs.get("status") or {}).get("readyReplicas", 0)),
                "change_cause": annotations.get(CHANGE_CAUSE, ""),
                "current": revision_of(rs) == current,
            }
        )
    return rows


def rollback(
    scope: Scope,
    name: str,
    *,
    to_revision: int | None = None,
    incident_id: int | None = None,
    dry_run: bool = False,
    watch: WatchOptions = WatchOptions(),
) -> dict[str, Any]:
    service = scope.service(name)
    with audited(
        scope.store,
        kind="service.rollback",
        target=scope.target(service.deployment),
        params={"to_revision": to_revision, "namespace": scope.namespace},
        incident_id=incident_id,
        dry_run=dry_run,
        clock=scope.clock,
    ) as action:
        deployment = scope.deployment(service)
        refuse_if_paused(deployment, "rollback")
        sets = replicasets_of(scope.client, scope.namespace, deployment)
        current = revision_of(deployment)
        chosen = _choose(sets, current, to_revision, service.deployment)
        template = _bare_template(chosen)
        if template == deployment["spec"]["template"]:
            raise Conflict(
                f"{service.deployment} already runs the template of revision "
                f"{revision_of(chosen)}; nothing to roll back."
            )
        result: dict[str, Any] = {
            "service": name,
            "from_revision": current,
            "to_revision": revision_of(chosen),
            "replicaset": chosen["metadata"]["name"],
            "images": [
                c.get("image") for c in template.get("spec", {}).get("containers") or []
            ],
            "dry_run": dry_run,
        }
        action.result.update(result)
        if dry_run:
            return result

        patched = scope.client.patch_deployment(
            scope.namespace,
            service.deployment,
            [{"op": "replace", "path": "/spec/template", "value": template}],
            content_type=JSON_PATCH,
        )
        if patched["spec"]["template"] != template:
            raise Conflict(
                f"{service.deployment} did not take the template of revision "
                f"{revision_of(chosen)}."
            )
        result.update(
            finish_rollout(scope, service.deployment, service.health_url, watch)
        )
        result["revision_now"] = revision_of(
            scope.client.get_deployment(scope.namespace, service.deployment)
        )
        action.result.update(result)
        return result


def _choose(sets: list[Obj], current: int, wanted: int | None, deployment: str) -> Obj:
    known = sorted(revision_of(rs) for rs in sets)
    if wanted is None:
        earlier = [rs for rs in sets if revision_of(rs) < current]
        if not earlier:
            raise NotFound(
                f"{deployment} has no revision before {current} to roll back to."
            )
        return max(earlier, key=revision_of)
    for rs in sets:
        if revision_of(rs) == wanted:
            return rs
    raise NotFound(
        f"{deployment} has no revision {wanted} "
        f"(known: {', '.join(map(str, known)) or 'none'})."
    )
