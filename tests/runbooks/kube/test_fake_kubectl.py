"""The fake API server satisfies the real kubectl for every verb mgops relies on.

If kubectl can get, scale, restart, watch a rollout, undo it and annotate against
the fake, the fake speaks the protocol closely enough for the official Python
client too. kubectl runs with an explicit kubeconfig and cache directory, and
HOME pointed at the test's directory.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.runbooks.kube.fakeapi import FakeCluster
from tests.servers import require_binary

KUBECTL = "/usr/bin/kubectl"


@pytest.fixture
def kubectl(cluster: FakeCluster, kubeconfig: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    binary = require_binary(KUBECTL, "google-cloud-cli (kubectl)")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [
                str(binary),
                f"--kubeconfig={kubeconfig}",
                f"--cache-dir={tmp_path / 'kube-cache'}",
                "--namespace=production",
                "--request-timeout=20s",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done

    return run


class TestKubectlAgainstTheFake:
    def test_get_lists_deployments_and_pods_as_tables(self, cluster, kubectl):
        """`kubectl get` prints the server's tables."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")

        deployments = kubectl("get", "deployments").stdout
        pods = kubectl("get", "pods", "-l", "app=api-gateway").stdout

        assert "api-gateway   3/3" in deployments
        assert pods.count("Running") == 3

    def test_get_json_and_version(self, cluster, kubectl):
        """`kubectl get -o json` decodes objects; `kubectl version` reads /version."""
        cluster.add_deployment("auth-service", replicas=2)

        body = json.loads(
            kubectl("get", "deployment", "auth-service", "-o", "json").stdout
        )
        version = kubectl("version", "-o", "json").stdout

        assert body["spec"]["replicas"] == 2
        assert json.loads(version)["serverVersion"]["gitVersion"] == "v1.32.4"

    def test_scale_goes_through_the_scale_subresource(self, cluster, kubectl):
        """`kubectl scale` patches /scale and the controller follows."""
        cluster.add_deployment("api-gateway", replicas=3)

        kubectl("scale", "deployment/api-gateway", "--replicas=5")
        cluster.wait_for(lambda: len(cluster.pods("api-gateway")) == 5)

        scale_writes = [r for r in cluster.writes() if r.path.endswith("/scale")]
        assert cluster.deployment("api-gateway")["spec"]["replicas"] == 5
        assert scale_writes

    def test_rollout_restart_status_and_undo(self, cluster, kubectl):
        """restart, status (a watch) and undo behave as against a real server."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")

        kubectl("rollout", "restart", "deployment/api-gateway")
        status = kubectl("rollout", "status", "deployment/api-gateway", "--timeout=30s")
        revision_after_restart = cluster.deployment("api-gateway")["metadata"][
            "annotations"
        ]["deployment.kubernetes.io/revision"]
        kubectl("rollout", "undo", "deployment/api-gateway")
        undo_status = kubectl(
            "rollout", "status", "deployment/api-gateway", "--timeout=30s"
        )
        template = cluster.deployment("api-gateway")["spec"]["template"]

        assert "successfully rolled out" in status.stdout
        assert revision_after_restart == "2"
        assert "successfully rolled out" in undo_status.stdout
        assert (
            "kubectl.kubernetes.io/restartedAt"
            not in template["metadata"]["annotations"]
        )
        assert (
            cluster.deployment("api-gateway")["metadata"]["annotations"][
                "deployment.kubernetes.io/revision"
            ]
            == "3"
        )

    def test_rollout_status_reports_the_progress_deadline(self, cluster, kubectl):
        """A rollout that never becomes ready fails kubectl's status at the deadline."""
        cluster.add_deployment("api-gateway", replicas=2, progress_deadline=1)
        cluster.wait_rolled_out("api-gateway")
        cluster.set_fault("api-gateway", "never-ready")

        kubectl("rollout", "restart", "deployment/api-gateway")
        status = kubectl(
            "rollout", "status", "deployment/api-gateway", "--timeout=20s", check=False
        )

        assert status.returncode != 0
        assert "exceeded its progress deadline" in status.stderr

    def test_rollout_restart_refuses_a_paused_deployment(self, cluster, kubectl):
        """kubectl itself refuses to restart a paused deployment (case R7's reason)."""
        cluster.add_deployment("api-gateway", replicas=2, paused=True)

        done = kubectl("rollout", "restart", "deployment/api-gateway", check=False)

        assert done.returncode != 0
        assert "paused" in done.stderr

    def test_annotate_merges_into_existing_annotations(self, cluster, kubectl):
        """`kubectl annotate` sends a merge patch; other annotations stay."""
        cluster.add_deployment("api-gateway", annotations={"owner": "media"})
        cluster.add_external_secret("api-keys", "api-keys")

        kubectl("annotate", "deployment/api-gateway", "ticket=INC-7")
        kubectl("annotate", "externalsecret/api-keys", "force-sync=1700000000")
        annotations = cluster.deployment("api-gateway")["metadata"]["annotations"]
        secret = cluster.store.get(
            "external-secrets.io", "externalsecrets", "production", "api-keys"
        )

        assert annotations["owner"] == "media"
        assert annotations["ticket"] == "INC-7"
        assert secret["metadata"]["annotations"]["force-sync"] == "1700000000"

    def test_a_bare_scale_under_an_hpa_is_reverted(self, cluster, kubectl):
        """Why R8 matters: the fake HPA undoes `kubectl scale` as a real one does."""
        cluster.add_deployment("api-gateway", replicas=4)
        cluster.add_hpa("api-gateway", low=3, high=10)
        cluster.wait_rolled_out("api-gateway")

        kubectl("scale", "deployment/api-gateway", "--replicas=8")
        time.sleep(0.3)

        assert cluster.deployment("api-gateway")["spec"]["replicas"] == 4


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_the_oldest_and_newest_kubectl_beside_it_agree(
    cluster, kubeconfig, tmp_path, version
):
    """kubectl 1.27 and 1.33 run the same verbs against the fake without error."""
    binary = require_binary(
        f"/usr/lib/google-cloud-sdk/bin/kubectl.{version}", "google-cloud-cli"
    )
    cluster.add_deployment("api-gateway", replicas=2)
    cluster.wait_rolled_out("api-gateway")
    verbs = [
        ["scale", "deployment/api-gateway", "--replicas=3"],
        ["rollout", "restart", "deployment/api-gateway"],
        ["rollout", "status", "deployment/api-gateway", "--timeout=30s"],
        ["rollout", "undo", "deployment/api-gateway"],
        ["rollout", "status", "deployment/api-gateway", "--timeout=30s"],
        ["annotate", "deployment/api-gateway", "checked-by=kubectl"],
        ["get", "deployment", "api-gateway"],
    ]

    codes = [
        subprocess.run(
            [
                str(binary),
                f"--kubeconfig={kubeconfig}",
                f"--cache-dir={tmp_path / 'c'}",
                "-n",
                "production",
                *verb,
            ],
            capture_output=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        ).returncode
        for verb in verbs
    ]

    assert codes == [0] * len(verbs)
    assert (
        cluster.deployment("api-gateway")["metadata"]["annotations"]["checked-by"]
        == "kubectl"
    )
    assert cluster.deployment("api-gateway")["spec"]["replicas"] == 3
