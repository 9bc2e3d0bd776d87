"""The fake's controllers: deployments roll through ReplicaSets to pods over ticks.

One tick does what the real controllers do in a sync, in small steps:

- a Deployment whose template has no ReplicaSet gets one (revision = max + 1);
  going back to an old template bumps that ReplicaSet's revision, as a rollback does;
- the new ReplicaSet grows by at most maxSurge (25%, at least 1) above the desired
  count, old ones shrink while availability stays above desired - maxUnavailable;
- pods start Pending and become Running and Ready after ``start_ticks`` ticks, unless
  their deployment's fault says crash-loop, image-pull failure or never-ready;
- a rollout that made no progress for ``progressDeadlineSeconds`` is marked
  ``ProgressDeadlineExceeded``; a paused deployment is left alone;
- an HPA pulls its target's replicas into [minReplicas, maxReplicas] around the
  count its "load" asks for, so a bare scale inside an HPA is reverted; a target
  at zero replicas is left alone, as the real HPA disables itself then;
- an ExternalSecret whose ``force-sync`` annotation changed gets a new refreshTime.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.runbooks.kube.fakeapi.objects import Obj, now_rfc3339

if TYPE_CHECKING:
    from tests.runbooks.kube.fakeapi.cluster import FakeCluster

REVISION = "deployment.kubernetes.io/revision"


@dataclass
class PodLife:
    fault: str | None
    ticks: int = 0
    terminating_ticks: int = 0
    restarts: int = 0
    reported: bool = False


@dataclass
class RolloutClock:
    last_progress: float = field(default_factory=time.monotonic)
    marker: str = ""


def template_hash(template: Obj) -> str:
    bare = copy.deepcopy(template)
    bare.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    digest = hashlib.sha256(json.dumps(bare, sort_keys=True).encode()).hexdigest()
    return "".join(c for c in digest if c in "bcdfghjklmnpqrstvwxz2456789")[:10]


def _owned_by(obj: Obj, owner: Obj) -> bool:
    return any(
        ref.get("uid") == owner["metadata"]["uid"] and ref.get("controller")
        for ref in obj["metadata"].get("ownerReferences") or []
    )


def _owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


class Controller:
    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.pods: dict[str, PodLife] = {}
        self.rollouts: dict[str, RolloutClock] = {}
        self.hpa_load: dict[str, int] = {}
        self.synced: dict[str, str] = {}

    def tick(self) -> None:
        with self.store.lock:
            for dep in self.store.list("apps", "deployments", None):
                self._sync_deployment(dep)
            for rs in self.store.list("apps", "replicasets", None):
                self._sync_replicaset(rs)
            for pod in self.store.list("", "pods", None):
                self._advance_pod(pod)
            for dep in self.store.list("apps", "deployments", None):
                self._deployment_status(dep)
            for hpa in self.store.list("autoscaling", "horizontalpodautoscalers", None):
                self._sync_hpa(hpa)
            for es in self.store.list("external-secrets.io", "externalsecrets", None):
                self._sync_external_secret(es)

    # -- deployments --------------------------------------------------------------

    def _replicasets_of(self, dep: Obj) -> list[Obj]:
        ns = dep["metadata"]["namespace"]
        return [
            rs
            for rs in self.store.list("apps", "replicasets", ns)
            if _owned_by(rs, dep)
        ]

    def _sync_deployment(self, dep: Obj) -> None:
        if dep["spec"].get("paused"):
            return
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        sets = self._replicasets_of(dep)
        want = template_hash(dep["spec"]["template"])
        new = next(
            (rs for rs in sets if template_hash(rs["spec"]["template"]) == want), None
        )
        top = max(
            (int(rs["metadata"]["annotations"].get(REVISION, "0")) for rs in sets),
            default=0,
        )
        if new is None:
            new = self._create_replicaset(dep, want, top + 1, sets)
            sets.append(new)
        elif int(new["metadata"]["annotations"].get(REVISION, "0")) < top:
            bumped = copy.deepcopy(new)
            bumped["metadata"]["annotations"][REVISION] = str(top + 1)
            new = self.store.commit(
                "apps", "replicasets", ns, new, bumped, status=False
            )
            self._progressed(dep)
        revision = new["metadata"]["annotations"][REVISION]
        if dep["metadata"].setdefault("annotations", {}).get(REVISION) != revision:
            fresh = self.store.get("apps", "deployments", ns, name)
            updated = copy.deepcopy(fresh)
            updated["metadata"].setdefault("annotations", {})[REVISION] = revision
            self.store.commit("apps", "deployments", ns, fresh, updated, status=False)
        self._roll(
            dep,
            new,
            [rs for rs in sets if rs["metadata"]["name"] != new["metadata"]["name"]],
        )

    def _create_replicaset(
        self, dep: Obj, hash_: str, revision: int, sets: list[Obj]
    ) -> Obj:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        template = copy.deepcopy(dep["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[
            "pod-template-hash"
        ] = hash_
        selector = copy.deepcopy(dep["spec"]["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = hash_
        first = not any(rs["spec"].get("replicas") for rs in sets)
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name}-{hash_}",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(
                        dep["spec"].get("replicas", 1)
                    ),
                },
                "ownerReferences": [_owner_ref(dep)],
            },
            "spec": {
                "replicas": dep["spec"].get("replicas", 1) if first else 0,
                "selector": selector,
                "template": template,
            },
        }
        created = self.store.create("apps", "replicasets", ns, rs)
        self.cluster.event(
            dep,
            "ScalingReplicaSet",
            f"Scaled up replica set {rs['metadata']['name']} "
            f"to {rs['spec']['replicas']}",
        )
        self._progressed(dep)
        return created

    def _roll(self, dep: Obj, new: Obj, olds: list[Obj]) -> None:
        desired = int(dep["spec"].get("replicas", 1))
        surge = max(1, math.ceil(desired * 0.25))
        unavailable = math.floor(desired * 0.25)
        pods = self._pods_by_rs(dep)
        new_name = new["metadata"]["name"]
        new_spec = int(new["spec"].get("replicas", 0))
        old_spec = sum(int(rs["spec"].get("replicas", 0)) for rs in olds)
        if new_spec > desired or not any(
            int(rs["spec"].get("replicas", 0)) for rs in olds
        ):
            new_spec = desired
        else:
            new_spec = min(
                desired, new_spec + max(0, desired + surge - new_spec - old_spec)
            )
        self._set_replicas(dep, new, new_spec)
        new_ready = sum(1 for p in pods.get(new_name, []) if pod_ready(p))
        budget = new_ready - (desired - unavailable)
        for rs in olds:
            count = int(rs["spec"].get("replicas", 0))
            if not count:
                continue
            mine = pods.get(rs["metadata"]["name"], [])
            ready = sum(1 for p in mine if pod_ready(p))
            unhealthy = max(0, count - ready)
            budget += ready
            drop = min(count, unhealthy + max(0, budget))
            budget -= max(0, drop - unhealthy)
            if drop:
                self._set_replicas(dep, rs, count - drop)

    def _set_replicas(self, dep: Obj, rs: Obj, replicas: int) -> None:
        if int(rs["spec"].get("replicas", 0)) == replicas:
            return
        ns = rs["metadata"]["namespace"]
        fresh = self.store.get("apps", "replicasets", ns, rs["metadata"]["name"])
        updated = copy.deepcopy(fresh)
        updated["spec"]["replicas"] = replicas
        updated["metadata"]["annotations"][
            "deployment.kubernetes.io/desired-replicas"
        ] = str(dep["spec"].get("replicas", 1))
        self.store.commit("apps", "replicasets", ns, fresh, updated, status=False)
        rs["spec"]["replicas"] = replicas
        verb = "up" if replicas > int(fresh["spec"].get("replicas", 0)) else "down"
        self.cluster.event(
            dep,
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {rs['metadata']['name']} to {replicas}",
        )
        self._progressed(dep)

    def _pods_by_rs(self, dep: Obj) -> dict[str, list[Obj]]:
        ns = dep["metadata"]["namespace"]
        out: dict[str, list[Obj]] = {}
        for pod in self.store.list("", "pods", ns):
            for ref in pod["metadata"].get("ownerReferences") or []:
                out.setdefault(ref["name"], []).append(pod)
        return out

    def _progressed(self, dep: Obj) -> None:
        self.rollouts.setdefault(
            dep["metadata"]["uid"], RolloutClock()
        ).last_progress = time.monotonic()

    # -- replica sets and pods ----------------------------------------------------

    def _sync_replicaset(self, rs: Obj) -> None:
        ns = rs["metadata"]["namespace"]
        mine = [p for p in self.store.list("", "pods", ns) if _owned_by(p, rs)]
        alive = [p for p in mine if not p["metadata"].get("deletionTimestamp")]
        want = int(rs["spec"].get("replicas", 0))
        for _ in range(want - len(alive)):
            self._create_pod(rs)
        if len(alive) > want:
            alive.sort(key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]))
            for pod in alive[: len(alive) - want]:
                self.cluster.delete_object_by_name(ns, pod["metadata"]["name"])
        mine = [p for p in self.store.list("", "pods", ns) if _owned_by(p, rs)]
        alive = [p for p in mine if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in alive if pod_ready(p))
        status = {
            "replicas": len(alive),
            "fullyLabeledReplicas": len(alive),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"]["generation"],
        }
        if rs.get("status") != status:
            self.store.commit(
                "apps", "replicasets", ns, rs, dict(rs, status=status), status=True
            )

    def _create_pod(self, rs: Obj) -> None:
        ns = rs["metadata"]["namespace"]
        template = copy.deepcopy(rs["spec"]["template"])
        deployment = rs["metadata"]["ownerReferences"][0]["name"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": rs["metadata"]["name"] + "-",
                "labels": template.get("metadata", {}).get("labels", {}),
                "annotations": template.get("metadata", {}).get("annotations", {}),
                "ownerReferences": [_owner_ref(rs)],
            },
            "spec": dict(template.get("spec", {}), nodeName="fake-node-1"),
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [
                    {
                        "name": c.get("name", "app"),
                        "image": c.get("image", ""),
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                    for c in template.get("spec", {}).get("containers", [])
                ],
            },
        }
        created = self.store.create("", "pods", ns, pod)
        name = created["metadata"]["name"]
        self.pods[name] = PodLife(fault=self.cluster.faults.get(deployment))

    def _advance_pod(self, pod: Obj) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        life = self.pods.setdefault(name, PodLife(fault=None))
        if pod["metadata"].get("deletionTimestamp"):
            life.terminating_ticks += 1
            if life.terminating_ticks >= self.cluster.terminate_ticks:
                self.store.delete("", "pods", ns, name)
                self.pods.pop(name, None)
            return
        life.ticks += 1
        if life.ticks < self.cluster.start_ticks:
            return
        status = self._pod_status(pod, life)
        if status != pod.get("status"):
            self.store.commit(
                "", "pods", ns, pod, dict(pod, status=status), status=True
            )
            if life.fault is None and pod.get("status", {}).get("phase") == "Pending":
                self.cluster.add_log(
                    name,
                    json.dumps(
                        {"severity": "INFO", "message": "server started", "pod": name}
                    ),
                )

    def _pod_status(self, pod: Obj, life: PodLife) -> Obj:
        status = copy.deepcopy(pod.get("status", {}))
        ready = life.fault is None
        status["phase"] = "Pending" if life.fault == "image-pull" else "Running"
        status["conditions"] = [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False"},
            {"type": "ContainersReady", "status": "True" if ready else "False"},
        ]
        for container in status.get("containerStatuses", []):
            container["ready"] = ready
            if life.fault == "crashloop":
                # CrashLoopBackOff means the container already exited at least once.
                if life.ticks % 3 == 0 or not life.restarts:
                    life.restarts += 1
                container["restartCount"] = life.restarts
                container["state"] = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": "back-off restarting failed container",
                    }
                }
                container["lastState"] = {
                    "terminated": {"exitCode": 1, "reason": "Error"}
                }
                if not life.reported:
                    life.reported = True
                    self.cluster.event(
                        pod,
                        "BackOff",
                        "Back-off restarting failed container",
                        warning=True,
                    )
            elif life.fault == "image-pull":
                container["state"] = {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{container["image"]}"',
                    }
                }
            else:
                container["started"] = True
                container["state"] = {
                    "running": {"startedAt": pod["metadata"]["creationTimestamp"]}
                }
        return status

    # -- deployment status --------------------------------------------------------

    def _deployment_status(self, dep: Obj) -> None:
        ns = dep["metadata"]["namespace"]
        desired = int(dep["spec"].get("replicas", 1))
        sets = self._replicasets_of(dep)
        want = template_hash(dep["spec"]["template"])
        pods = self._pods_by_rs(dep)
        alive = {
            rs["metadata"]["name"]: [
                p
                for p in pods.get(rs["metadata"]["name"], [])
                if not p["metadata"].get("deletionTimestamp")
            ]
            for rs in sets
        }
        new = next(
            (rs for rs in sets if template_hash(rs["spec"]["template"]) == want), None
        )
        rs_name = new["metadata"]["name"] if new else ""
        updated = alive.get(rs_name, [])
        total = sum(len(v) for v in alive.values())
        ready = sum(1 for v in alive.values() for p in v if pod_ready(p))
        updated_ready = sum(1 for p in updated if pod_ready(p))
        old = self.store.get("apps", "deployments", ns, dep["metadata"]["name"])
        clock = self.rollouts.setdefault(dep["metadata"]["uid"], RolloutClock())
        marker = f"{want}:{updated_ready}:{total}"
        if marker != clock.marker:
            clock.marker, clock.last_progress = marker, time.monotonic()
        complete = (
            updated_ready == desired and total == desired and len(updated) == desired
        )
        deadline = float(dep["spec"].get("progressDeadlineSeconds", 600))
        if dep["spec"].get("paused"):
            progressing = ("Unknown", "DeploymentPaused", "Deployment is paused")
        elif complete:
            progressing = (
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
        elif time.monotonic() - clock.last_progress > deadline:
            progressing = (
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
            )
        else:
            progressing = (
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
            )
        minimum = desired - math.floor(desired * 0.25)
        available = (
            ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            if ready >= minimum
            else (
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        )
        status = {
            "observedGeneration": old["metadata"]["generation"],
            "replicas": total,
            "updatedReplicas": len(updated),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, desired - ready),
            "conditions": _conditions(
                old.get("status", {}).get("conditions") or [],
                {"Available": available, "Progressing": progressing},
            ),
        }
        if old.get("status") != status:
            self.store.commit(
                "apps", "deployments", ns, old, dict(old, status=status), status=True
            )

    # -- autoscalers and external secrets ------------------------------------------

    def _sync_hpa(self, hpa: Obj) -> None:
        ns = hpa["metadata"]["namespace"]
        ref = hpa["spec"]["scaleTargetRef"]
        dep = self.store.find("apps", "deployments", ns, ref["name"])
        if dep is None:
            return
        if int(dep["spec"].get("replicas", 1)) == 0:
            # As the real HPA: a target scaled to zero switches autoscaling off.
            return
        key = hpa["metadata"]["uid"]
        load = self.hpa_load.setdefault(key, int(dep["spec"].get("replicas", 1)))
        load = self.cluster.hpa_load.get(hpa["metadata"]["name"], load)
        low, high = (
            int(hpa["spec"].get("minReplicas", 1)),
            int(hpa["spec"]["maxReplicas"]),
        )
        target = min(high, max(low, load))
        if int(dep["spec"].get("replicas", 1)) != target:
            updated = copy.deepcopy(dep)
            updated["spec"]["replicas"] = target
            self.store.commit("apps", "deployments", ns, dep, updated, status=False)
            self.cluster.event(
                hpa, "SuccessfulRescale", f"New size: {target}; reason: within bounds"
            )
        status = {
            "currentReplicas": int(dep.get("status", {}).get("replicas", 0)),
            "desiredReplicas": target,
        }
        if hpa.get("status") != status:
            self.store.commit(
                "autoscaling",
                "horizontalpodautoscalers",
                ns,
                hpa,
                dict(hpa, status=status),
                status=True,
            )

    def _sync_external_secret(self, es: Obj) -> None:
        ns, uid = es["metadata"]["namespace"], es["metadata"]["uid"]
        mark = (es["metadata"].get("annotations") or {}).get("force-sync", "")
        if uid in self.synced and self.synced[uid] == mark:
            return
        fault = self.cluster.faults.get(f"externalsecret/{es['metadata']['name']}")
        if fault == "stuck":
            return
        self.synced[uid] = mark
        ok = fault != "error"
        status = {
            "refreshTime": now_rfc3339(),
            "syncedResourceVersion": f"1-{mark or 'initial'}",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ok else "False",
                    "reason": "SecretSynced" if ok else "SecretSyncedError",
                    "message": "Secret was synced"
                    if ok
                    else "could not get secret data from provider",
                    "lastTransitionTime": now_rfc3339(),
                }
            ],
        }
        self.store.commit(
            "external-secrets.io",
            "externalsecrets",
            ns,
            es,
            dict(es, status=status),
            status=True,
        )


def _conditions(old: list[Obj], wanted: dict[str, tuple[str, str, str]]) -> list[Obj]:
    previous = {c["type"]: c for c in old}
    out = []
    for kind, (status, reason, message) in wanted.items():
        before = previous.get(kind)
        if before and (before["status"], before["reason"], before["message"]) == (
            status,
            reason,
            message,
        ):
            out.append(before)
            continue
        stamp = now_rfc3339()
        out.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            }
        )
    return out
