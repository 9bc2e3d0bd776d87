"""What the fake serves, described the way the discovery endpoints describe it,
and the server-side ``Table`` rendering that ``kubectl get`` asks for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    short: tuple[str, ...] = ()
    namespaced: bool = True
    subresources: dict[str, tuple[str, str, str, tuple[str, ...]]] = field(
        default_factory=dict
    )

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_status(self) -> bool:
        return self.plural not in ("configmaps", "events")


_SCALE = ("autoscaling", "v1", "Scale", ("get", "patch", "update"))

RESOURCES = [
    Resource(
        "",
        "v1",
        "pods",
        "Pod",
        ("po",),
        subresources={
            "log": ("", "v1", "Pod", ("get",)),
            "eviction": ("policy", "v1", "Eviction", ("create",)),
            "status": ("", "v1", "Pod", ("get", "patch", "update")),
        },
    ),
    Resource("", "v1", "configmaps", "ConfigMap", ("cm",)),
    Resource("", "v1", "events", "Event", ("ev",)),
    Resource(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        ("deploy",),
        subresources={
            "scale": _SCALE,
            "status": ("apps", "v1", "Deployment", ("get", "patch", "update")),
        },
    ),
    Resource(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        ("rs",),
        subresources={
            "scale": _SCALE,
            "status": ("apps", "v1", "ReplicaSet", ("get", "patch", "update")),
        },
    ),
    Resource(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        ("hpa",),
        subresources={"status": ("autoscaling", "v2", "HorizontalPodAutoscaler", ())},
    ),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", ("pdb",)),
    Resource(
        "external-secrets.io",
        "v1beta1",
        "externalsecrets",
        "ExternalSecret",
        ("es",),
        subresources={
            "status": ("external-secrets.io", "v1beta1", "ExternalSecret", ())
        },
    ),
]


def resource_for(group: str, version: str, plural: str) -> Resource | None:
    for res in RESOURCES:
        if (res.group, res.version, res.plural) == (group, version, plural):
            return res
    return None


def api_versions(address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": address}
        ],
    }


def api_groups() -> Obj:
    groups: dict[str, Obj] = {}
    for res in RESOURCES:
        if not res.group or res.group in groups:
            continue
        gv = {"groupVersion": res.group_version, "version": res.version}
        groups[res.group] = {
            "name": res.group,
            "versions": [gv],
            "preferredVersion": gv,
        }
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": list(groups.values())}


def resource_list(group: str, version: str) -> Obj | None:
    entries: list[Obj] = []
    for res in RESOURCES:
        if (res.group, res.version) != (group, version):
            continue
        entries.append(
            {
                "name": res.plural,
                "singularName": res.kind.lower(),
                "namespaced": res.namespaced,
                "kind": res.kind,
                "verbs": VERBS,
                "shortNames": list(res.short),
                "categories": ["all"] if res.plural != "events" else [],
            }
        )
        for sub, (g, v, kind, verbs) in res.subresources.items():
            entry: Obj = {
                "name": f"{res.plural}/{sub}",
                "singularName": "",
                "namespaced": True,
                "kind": kind,
                "verbs": list(verbs),
            }
            if (g, v) != (group, version):
                entry.update(group=g, version=v)
            entries.append(entry)
    if not entries:
        return None
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": entries,
    }


def version_info() -> Obj:
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.4",
        "gitCommit": "fake",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


# -- tables ------------------------------------------------------------------


def _age(obj: Obj) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    start = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - start).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _pod_cells(pod: Obj) -> list[Any]:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    total = len(pod.get("spec", {}).get("containers") or []) or len(statuses)
    reason = pod.get("status", {}).get("phase", "Pending")
    for s in statuses:
        waiting = (s.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    return [pod["metadata"]["name"], f"{ready}/{total}", reason, restarts, _age(pod)]


def _deployment_cells(dep: Obj) -> list[Any]:
    status = dep.get("status", {})
    return [
        dep["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{dep['spec'].get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(dep),
    ]


def _hpa_cells(hpa: Obj) -> list[Any]:
    spec, status = hpa.get("spec", {}), hpa.get("status", {})
    ref = spec.get("scaleTargetRef", {})
    return [
        hpa["metadata"]["name"],
        f"{ref.get('kind')}/{ref.get('name')}",
        "<unknown>",
        spec.get("minReplicas", 1),
        spec.get("maxReplicas"),
        status.get("currentReplicas", 0),
        _age(hpa),
    ]


_COLUMNS: dict[str, tuple[list[str], Any]] = {
    "pods": (["Name", "Ready", "Status", "Restarts", "Age"], _pod_cells),
    "deployments": (
        ["Name", "Ready", "Up-to-date", "Available", "Age"],
        _deployment_cells,
    ),
    "horizontalpodautoscalers": (
        ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"],
        _hpa_cells,
    ),
}


def as_table(plural: str, objects: list[Obj], resource_version: str) -> Obj:
    names, cells = _COLUMNS.get(
        plural, (["Name", "Age"], lambda o: [o["metadata"]["name"], _age(o)])
    )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": "integer" if name == "Restarts" else "string",
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": 0,
            }
            for name in names
        ],
        "rows": [
            {
                "cells": cells(obj),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
            for obj in objects
        ],
    }
