"""What every service command works with, and how a deployment's parts are found.

A ``Scope`` bundles the collaborators a command needs (client, store, policy,
clock, namespace) so core functions read ``restart(scope, "api-gateway", ...)``.
The helpers below find a deployment's ReplicaSets, pods and HPA the way the
controllers own them: by the deployment's selector and by controller owner
references, never by name prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mgops.clock import Clock
from mgops.errors import NotFound
from mgops.policy.schema import Policy, Service
from mgops.runbooks.kube.client import KubeClient, Obj
from mgops.store.db import Store

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
TEMPLATE_HASH = "pod-template-hash"


@dataclass(frozen=True)
class Scope:
    client: KubeClient
    store: Store
    policy: Policy
    clock: Clock
    namespace: str = "production"

    def service(self, name: str) -> Service:
        try:
            return self.policy.service(name)
        except KeyError:
            known = ", ".join(s.name for s in self.policy.services)
            raise NotFound(
                f"The policy has no service {name!r} (known: {known})."
            ) from None

    def target(self, deployment: str) -> str:
        """The audit target of an action on a deployment: cluster, namespace, name."""
        return f"kube://{self.client.context}/{self.namespace}/deployments/{deployment}"

    def deployment(self, service: Service) -> Obj:
        return self.client.get_deployment(self.namespace, service.deployment)


def selector_of(deployment: Obj) -> str:
    """The label selector string of a deployment's ``matchLabels``."""
    labels = (deployment.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def owned_by(obj: Obj, owner: Obj) -> bool:
    uid = owner.get("metadata", {}).get("uid")
    return any(
        ref.get("uid") == uid and ref.get("controller")
        for ref in obj.get("metadata", {}).get("ownerReferences") or []
    )


def revision_of(obj: Obj) -> int:
    raw = (obj.get("metadata", {}).get("annotations") or {}).get(REVISION, "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def replicasets_of(client: KubeClient, namespace: str, deployment: Obj) -> list[Obj]:
    """The deployment's ReplicaSets, oldest revision first."""
    found = client.list_replicasets(namespace, selector_of(deployment))
    return sorted((rs for rs in found if owned_by(rs, deployment)), key=revision_of)


def current_replicaset(sets: list[Obj], deployment: Obj) -> Obj | None:
    """The ReplicaSet whose template is the deployment's (by revision)."""
    wanted = revision_of(deployment)
    for rs in reversed(sets):
        if wanted and revision_of(rs) == wanted:
            return rs
    return None


def pods_of(client: KubeClient, namespace: str, deployment: Obj) -> list[Obj]:
    return client.list_pods(namespace, selector_of(deployment))


def alive(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if not p.get("metadata", {}).get("deletionTimestamp")]


def pod_is_ready(pod: Obj) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def hpa_for(client: KubeClient, namespace: str, deployment: str) -> Obj | None:
    """The HorizontalPodAutoscaler whose scale target is this deployment, if any."""
    for hpa in client.list_hpas(namespace):
        ref = hpa.get("spec", {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == deployment:
            return hpa
    return None


def annotations_of(obj: Obj) -> dict[str, Any]:
    return dict(obj.get("metadata", {}).get("annotations") or {})
