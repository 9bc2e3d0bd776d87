"""Runbook 1.3, ConfigMap update: apply, restart, and prove the pods run it.

The runbook verifies with ``kubectl exec <pod> -- env | grep <key>``, which prints
configuration (often near-secret) into terminals and logs. mgops never prints a
value. It hashes the ConfigMap's data (SHA-256 over the canonical JSON of
``data`` and ``binaryData``), stamps that hash on the pod template as
``mgops.io/config-sha256`` together with the restart annotation, and after the
rollout checks that the ConfigMap read back from the cluster has that hash and
that every running pod was created from a template carrying it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from mgops.audit import audited
from mgops.errors import ActionRefused, InputError, TargetError
from mgops.runbooks.kube.client import Obj
from mgops.runbooks.kube.restart import (
    WatchOptions,
    refuse_if_paused,
    restart_and_watch,
    restart_stamp,
)
from mgops.runbooks.kube.scope import Scope, alive, pods_of

CONFIG_HASH = "mgops.io/config-sha256"


def config_hash(configmap: Obj) -> str:
    payload = {
        "data": configmap.get("data") or {},
        "binaryData": configmap.get("binaryData") or {},
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_manifest(path: Path, namespace: str) -> Obj:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]
    except FileNotFoundError:
        raise InputError(f"{path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}.") from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise InputError(f"{path} must hold exactly one ConfigMap.")
    manifest = docs[0]
    if manifest.get("kind") != "ConfigMap" or manifest.get("apiVersion") != "v1":
        raise InputError(
            f"{path} holds a {manifest.get('kind')!r}, not a v1 ConfigMap."
        )
    meta = manifest.get("metadata") or {}
    if not meta.get("name"):
        raise InputError(f"{path}: metadata.name is missing.")
    if meta.get("namespace", namespace) != namespace:
        raise InputError(
            f"{path} is for namespace {meta['namespace']!r}, the command for "
            f"{namespace!r}; pass --namespace {meta['namespace']} if that is meant."
        )
    for key, value in (manifest.get("data") or {}).items():
        if not isinstance(value, str):
            raise InputError(f"{path}: data.{key} must be a string (quote it in YAML).")
    return manifest


def references_configmap(deployment: Obj, name: str) -> bool:
    spec = deployment["spec"]["template"].get("spec", {})
    for volume in spec.get("volumes") or []:
        if (volume.get("configMap") or {}).get("name") == name:
            return True
    for container in (spec.get("containers") or []) + (
        spec.get("initContainers") or []
    ):
        for source in container.get("envFrom") or []:
            if (source.get("configMapRef") or {}).get("name") == name:
                return True
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef") or {}
            if ref.get("name") == name:
                return True
    return False


def key_changes(old: Obj | None, new: Obj) -> dict[str, list[str]]:
    """Which keys were added, changed, removed: names only, never values."""
    before = (old or {}).get("data") or {}
    after = new.get("data") or {}
    return {
        "added": sorted(set(after) - set(before)),
        "changed": sorted(k for k in set(after) & set(before) if after[k] != before[k]),
        "removed": sorted(set(before) - set(after)),
    }


def apply_config(
    scope: Scope,
    path: Path,
    *,
    service: str | None = None,
    incident_id: int | None = None,
    dry_run: bool = False,
    watch: WatchOptions = WatchOptions(),
) -> dict[str, Any]:
    manifest = read_manifest(path, scope.namespace)
    name = manifest["metadata"]["name"]
    svc = scope.service(service or _service_for(scope, name))
    digest = config_hash(manifest)
    stamp = restart_stamp(scope.clock)
    with audited(
        scope.store,
        kind="service.config-apply",
        target=scope.target(svc.deployment),
        params={"configmap": name, "sha256": digest, "namespace": scope.namespace},
        incident_id=incident_id,
        dry_run=dry_run,
        clock=scope.clock,
    ) as action:
        deployment = scope.deployment(svc)
        refuse_if_paused(deployment, "config update")
        if not references_configmap(deployment, name):
            raise ActionRefused(
                f"{svc.deployment} does not use ConfigMap {name} (no volume, envFrom "
                "or configMapKeyRef names it), so a restart would not load it. "
                "Nothing was changed; pass --service for the right service."
            )
        existing = scope.client.get_configmap(scope.namespace, name)
        result: dict[str, Any] = {
            "service": svc.name,
            "configmap": name,
            "sha256": digest,
            "keys": key_changes(existing, manifest),
            "created": existing is None,
            "unchanged": existing is not None and config_hash(existing) == digest,
            "dry_run": dry_run,
        }
        action.result.update(result)
        if dry_run:
            return result

        stored = _store_configmap(scope, manifest, existing)
        if config_hash(stored) != digest:
            raise TargetError(
                f"ConfigMap {name} read back with a different hash; not restarting."
            )
        result.update(
            restart_and_watch(scope, svc, stamp, watch, {CONFIG_HASH: digest})
        )
        result["verified_pods"] = verify_pods(scope, svc.deployment, name, digest)
        action.result.update(result)
        return result


def _store_configmap(scope: Scope, manifest: Obj, existing: Obj | None) -> Obj:
    meta = manifest.get("metadata") or {}
    body: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": meta["name"],
            "namespace": scope.namespace,
            "labels": meta.get("labels") or {},
            "annotations": meta.get("annotations") or {},
        },
        "data": manifest.get("data") or {},
        "binaryData": manifest.get("binaryData") or {},
    }
    if existing is None:
        return scope.client.create_configmap(scope.namespace, body)
    # The resourceVersion makes the replace fail if someone edited it meanwhile.
    body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
    return scope.client.replace_configmap(scope.namespace, meta["name"], body)


def verify_pods(scope: Scope, deployment_name: str, configmap: str, digest: str) -> int:
    """Every running pod carries the hash, and the cluster's ConfigMap still has it."""
    stored = scope.client.get_configmap(scope.namespace, configmap)
    if stored is None or config_hash(stored) != digest:
        raise TargetError(f"ConfigMap {configmap} changed again during the rollout.")
    deployment = scope.client.get_deployment(scope.namespace, deployment_name)
    pods = alive(pods_of(scope.client, scope.namespace, deployment))
    stale = [
        p["metadata"]["name"]
        for p in pods
        if (p["metadata"].get("annotations") or {}).get(CONFIG_HASH) != digest
    ]
    if stale or not pods:
        raise TargetError(
            f"Pods not running config {digest[:12]}: "
            f"{', '.join(stale) or 'no pods at all'}."
        )
    return len(pods)


def _service_for(scope: Scope, configmap: str) -> str:
    if configmap.endswith("-config"):
        guess = configmap.removesuffix("-config")
        if any(s.name == guess for s in scope.policy.services):
            return guess
    raise InputError(
        f"Cannot tell which service uses ConfigMap {configmap} (the runbook's naming "
        "is <service>-config); pass --service."
    )
