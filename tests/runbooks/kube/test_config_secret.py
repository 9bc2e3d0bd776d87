"""ConfigMap updates verified by hash, and ExternalSecret syncs confirmed by
refreshTime before any restart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mgops.errors import ActionRefused, ActionTimeout, InputError, TargetError
from mgops.runbooks.kube.configmap import CONFIG_HASH, apply_config, config_hash
from mgops.runbooks.kube.secrets import sync_secret
from tests.runbooks.kube.conftest import actions

MOUNTS_CONFIG = {
    "containers": [
        {
            "name": "app",
            "image": "registry.local/media/api:1.0",
            "envFrom": [{"configMapRef": {"name": "api-gateway-config"}}],
            "env": [
                {
                    "name": "API_KEY",
                    "valueFrom": {"secretKeyRef": {"name": "api-keys", "key": "key"}},
                }
            ],
        }
    ]
}


def write_manifest(
    path: Path, data: dict[str, str], name: str = "api-gateway-config"
) -> Path:
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: {name}",
        "data:",
    ]
    lines += [f'  {k}: "{v}"' for k, v in data.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class TestConfigApply:
    def test_applies_restarts_and_verifies_every_pod_by_hash(
        self, scope, cluster, watch, tmp_path
    ):
        """After the rollout every pod carries the data's hash; no value appears."""
        cluster.add_deployment("api-gateway", replicas=3, pod_spec=MOUNTS_CONFIG)
        cluster.add_configmap("api-gateway-config", {"LOG_LEVEL": "info", "OLD": "x"})
        cluster.wait_rolled_out("api-gateway")
        manifest = write_manifest(
            tmp_path / "cm.yaml",
            {"LOG_LEVEL": "debug", "DB_PASSWORD_HINT": "s3cr3t-value"},
        )

        result = apply_config(scope, manifest, watch=watch)

        stored = cluster.store.get("", "configmaps", "production", "api-gateway-config")
        pods = [
            p
            for p in cluster.pods("api-gateway")
            if not p["metadata"].get("deletionTimestamp")
        ]
        assert result["sha256"] == config_hash(stored)
        assert result["verified_pods"] == 3
        assert {p["metadata"]["annotations"][CONFIG_HASH] for p in pods} == {
            result["sha256"]
        }
        assert result["keys"] == {
            "added": ["DB_PASSWORD_HINT"],
            "changed": ["LOG_LEVEL"],
            "removed": ["OLD"],
        }
        assert "s3cr3t-value" not in repr(result)
        assert "s3cr3t-value" not in repr(
            [(a.params, a.result) for a in actions(scope.store)]
        )

    def test_creates_a_missing_configmap(self, scope, cluster, watch, tmp_path):
        """A ConfigMap that does not exist yet is created, then rolled out."""
        cluster.add_deployment("api-gateway", replicas=2, pod_spec=MOUNTS_CONFIG)
        manifest = write_manifest(tmp_path / "cm.yaml", {"A": "1"})

        result = apply_config(scope, manifest, watch=watch)

        assert result["created"] is True
        assert result["verified_pods"] == 2

    def test_dry_run_lists_key_names_and_writes_nothing(
        self, scope, cluster, watch, tmp_path
    ):
        """--dry-run says which keys change, by name, and touches nothing."""
        cluster.add_deployment("api-gateway", replicas=2, pod_spec=MOUNTS_CONFIG)
        cluster.add_configmap("api-gateway-config", {"A": "1"})
        manifest = write_manifest(tmp_path / "cm.yaml", {"A": "2"})

        result = apply_config(scope, manifest, dry_run=True, watch=watch)

        assert result["keys"]["changed"] == ["A"]
        assert cluster.writes() == []

    def test_a_configmap_the_service_does_not_use_is_refused(
        self, scope, cluster, watch, tmp_path
    ):
        """Restarting a service that does not mount the ConfigMap proves nothing."""
        cluster.add_deployment("api-gateway", replicas=2)
        manifest = write_manifest(tmp_path / "cm.yaml", {"A": "1"})

        with pytest.raises(ActionRefused, match="does not use ConfigMap"):
            apply_config(scope, manifest, watch=watch)

        assert cluster.writes() == []

    def test_a_paused_deployment_is_refused_before_the_configmap_changes(
        self, scope, cluster, watch, tmp_path
    ):
        """R7's kind: the ConfigMap is not applied when the restart cannot happen."""
        cluster.add_deployment(
            "api-gateway", replicas=2, paused=True, pod_spec=MOUNTS_CONFIG
        )
        manifest = write_manifest(tmp_path / "cm.yaml", {"A": "1"})

        with pytest.raises(ActionRefused, match="paused"):
            apply_config(scope, manifest, watch=watch)

        assert cluster.writes() == []

    def test_a_name_without_a_service_needs_service(
        self, scope, cluster, watch, tmp_path
    ):
        """A ConfigMap not named <service>-config asks for --service."""
        manifest = write_manifest(
            tmp_path / "cm.yaml", {"A": "1"}, name="shared-settings"
        )

        with pytest.raises(InputError, match="--service"):
            apply_config(scope, manifest, watch=watch)

    def test_a_manifest_for_another_namespace_is_rejected(self, scope, tmp_path):
        """The file's namespace must be the command's."""
        manifest = tmp_path / "cm.yaml"
        manifest.write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: api-gateway-config\n  namespace: staging\ndata: {}\n"
        )

        with pytest.raises(InputError, match="staging"):
            apply_config(scope, manifest)


class TestSecretSync:
    def test_confirmed_by_refresh_time_then_restarts_the_users(
        self, scope, cluster, watch
    ):
        """A fresh force-sync value, refreshTime advances, then the service restarts."""
        cluster.add_deployment("api-gateway", replicas=2, pod_spec=MOUNTS_CONFIG)
        cluster.add_deployment("auth-service", replicas=1)
        cluster.add_deployment("batch-export", replicas=1, pod_spec=MOUNTS_CONFIG)
        cluster.add_external_secret("api-keys", "api-keys")
        cluster.wait_for(
            lambda: cluster.store.get(
                "external-secrets.io", "externalsecrets", "production", "api-keys"
            ).get("status")
        )
        cluster.wait_rolled_out("api-gateway")

        result = sync_secret(scope, "api-keys", watch=watch)

        assert result["restart"] == ["api-gateway"]
        assert result["not_restarted"] == ["batch-export"]
        assert result["refresh_after"] > result["refresh_before"]
        assert result["restarts"]["api-gateway"]["rollout"]["done"] is True
        patch = next(r for r in cluster.writes() if "externalsecrets" in r.path)
        assert "force-sync" in patch.body["metadata"]["annotations"]

    def test_no_refresh_means_no_restart(self, scope, cluster, watch):
        """A stuck controller: the sync is not confirmed and no pod restarts."""
        cluster.add_deployment("api-gateway", replicas=2, pod_spec=MOUNTS_CONFIG)
        cluster.set_fault("externalsecret/api-keys", "stuck")
        cluster.add_external_secret("api-keys", "api-keys")
        cluster.wait_rolled_out("api-gateway")

        with pytest.raises(ActionTimeout, match="refreshTime did not advance"):
            sync_secret(scope, "api-keys", watch=dataclasses.replace(watch, timeout=1))

        assert not [r for r in cluster.writes() if "deployments" in r.path]

    def test_a_sync_error_fails_without_restarting(self, scope, cluster, watch):
        """A refresh that reports an error is not a confirmed secret."""
        cluster.add_deployment("api-gateway", replicas=2, pod_spec=MOUNTS_CONFIG)
        cluster.add_external_secret("api-keys", "api-keys")
        cluster.wait_for(
            lambda: cluster.store.get(
                "external-secrets.io", "externalsecrets", "production", "api-keys"
            ).get("status")
        )
        cluster.set_fault("externalsecret/api-keys", "error")

        with pytest.raises(TargetError, match="SecretSyncedError"):
            sync_secret(scope, "api-keys", watch=watch)

        assert not [r for r in cluster.writes() if "deployments" in r.path]
