"""Hard restarts: the original count is stored before scaling to 0, and an
interrupted one is finished with --resume, even after the process was killed."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mgops.errors import ActionRefused, NotFound
from mgops.runbooks.kube.hard import (
    HARD_MARK,
    hard_restart,
    recorded_original,
    resume_hard_restart,
)
from tests.runbooks.kube.conftest import actions


class TestHardRestart:
    def test_stores_the_count_before_scaling_to_zero(self, scope, cluster, watch):
        """When replicas becomes 0, the store and the deployment hold the count."""
        cluster.add_deployment("api-gateway", replicas=4)
        cluster.wait_rolled_out("api-gateway")
        seen = {}

        def on_step(text: str) -> None:
            if text == "scaling to 0":
                target = scope.target("api-gateway")
                seen["store"] = recorded_original(scope, target)
                seen["annotation"] = cluster.deployment("api-gateway")["metadata"][
                    "annotations"
                ].get(HARD_MARK)

        result = hard_restart(
            scope, "api-gateway", watch=dataclasses.replace(watch, on_step=on_step)
        )

        deployment = cluster.deployment("api-gateway")
        assert seen == {"store": 4, "annotation": "4"}
        assert result["restored_replicas"] == 4
        assert result["rollout"]["done"] is True
        assert deployment["spec"]["replicas"] == 4
        assert HARD_MARK not in deployment["metadata"]["annotations"]
        assert "outage" in result["warning"]

    def test_waits_until_no_pod_remains_before_scaling_back(
        self, scope, cluster, watch
    ):
        """No scale-back write happens while pods of the old set still exist."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")
        counts = []

        def on_step(text: str) -> None:
            if text.startswith("scaling back"):
                counts.append(len(cluster.pods("api-gateway")))

        hard_restart(
            scope, "api-gateway", watch=dataclasses.replace(watch, on_step=on_step)
        )

        assert counts == [0]

    def test_interrupted_then_resumed_from_the_stored_count(
        self, scope, cluster, watch
    ):
        """Interrupted after scaling to 0, --resume brings back the original count."""
        cluster.add_deployment("api-gateway", replicas=5)
        cluster.wait_rolled_out("api-gateway")

        def die(text: str) -> None:
            if text.startswith("scaled to 0"):
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            hard_restart(
                scope, "api-gateway", watch=dataclasses.replace(watch, on_step=die)
            )
        interrupted = actions(scope.store, "service.restart-hard")[-1]
        stranded = cluster.deployment("api-gateway")

        result = resume_hard_restart(scope, "api-gateway", watch=watch)

        assert interrupted.outcome == "interrupted"
        assert stranded["spec"]["replicas"] == 0
        assert result["original_replicas"] == 5
        assert result["recorded_on"] == ["deployment", "store"]
        assert cluster.deployment("api-gateway")["spec"]["replicas"] == 5
        assert cluster.rolled_out("api-gateway")
        assert recorded_original(scope, scope.target("api-gateway")) is None

    def test_resume_works_from_the_store_alone(self, scope, cluster, watch):
        """If the annotation was lost, the store's count is enough."""
        cluster.add_deployment("api-gateway", replicas=4)
        cluster.wait_rolled_out("api-gateway")

        def die(text: str) -> None:
            if text.startswith("scaled to 0"):
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            hard_restart(
                scope, "api-gateway", watch=dataclasses.replace(watch, on_step=die)
            )
        scope.client.patch_deployment(
            "production",
            "api-gateway",
            {"metadata": {"annotations": {HARD_MARK: None}}},
        )

        result = resume_hard_restart(scope, "api-gateway", watch=watch)

        assert result["recorded_on"] == ["store"]
        assert cluster.deployment("api-gateway")["spec"]["replicas"] == 4

    def test_a_second_hard_restart_over_an_interrupted_one_is_refused(
        self, scope, cluster, watch
    ):
        """Starting again would read 0 as "the original": refused, names --resume."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")

        def die(text: str) -> None:
            if text.startswith("scaled to 0"):
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            hard_restart(
                scope, "api-gateway", watch=dataclasses.replace(watch, on_step=die)
            )

        with pytest.raises(ActionRefused, match="--resume"):
            hard_restart(scope, "api-gateway", watch=watch)
        assert recorded_original(scope, scope.target("api-gateway")) == 3

    def test_resume_with_nothing_recorded_says_so(self, scope, cluster, watch):
        """--resume without an interrupted hard restart: NotFound, nothing changes."""
        cluster.add_deployment("api-gateway", replicas=3)

        with pytest.raises(NotFound, match="nothing to resume"):
            resume_hard_restart(scope, "api-gateway", watch=watch)

        assert cluster.writes() == []

    def test_a_paused_deployment_is_refused(self, scope, cluster, watch):
        """As for a rolling restart (R7): refused, nothing scaled."""
        cluster.add_deployment("api-gateway", replicas=3, paused=True)

        with pytest.raises(ActionRefused, match="paused"):
            hard_restart(scope, "api-gateway", watch=watch)

        assert cluster.writes() == []

    def test_dry_run_scales_nothing(self, scope, cluster, watch):
        """--dry-run names the count and the outage, and writes nothing."""
        cluster.add_deployment("api-gateway", replicas=3)

        result = hard_restart(scope, "api-gateway", dry_run=True, watch=watch)

        assert result["original_replicas"] == 3
        assert cluster.writes() == []


class TestKilledProcess:
    def test_a_killed_cli_is_finished_by_resume(
        self, cluster, kubeconfig, tmp_path, make_policy
    ):
        """The operator's shell dies (SIGKILL) mid-outage; --resume restores it."""
        policy_file = tmp_path / "policy.yaml"
        policy_file.write_text(yaml.safe_dump(make_policy().model_dump(mode="json")))
        env = {
            **os.environ,
            "MGOPS_POLICY": str(policy_file),
            "MGOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "HOME": str(tmp_path),
        }
        command = [
            sys.executable,
            "-m",
            "mgops",
            "service",
            "restart",
            "api-gateway",
            "--hard",
            "--yes",
            f"--kubeconfig={kubeconfig}",
            "--timeout=60s",
        ]
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")
        # With the controllers stopped the pods never finish terminating, so the
        # command is caught waiting, as in a slow real shutdown.
        cluster.pause_controllers()
        first = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        cluster.wait_for(
            lambda: cluster.deployment("api-gateway")["spec"]["replicas"] == 0,
            timeout=60,
        )
        time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        cluster.resume_controllers()

        resumed = subprocess.run(
            [
                *command[:-2],
                "--resume",
                f"--kubeconfig={kubeconfig}",
                "--timeout=60s",
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

        assert resumed.returncode == 0, resumed.stderr
        assert '"original_replicas": 3' in resumed.stdout
        assert cluster.deployment("api-gateway")["spec"]["replicas"] == 3
        assert (
            HARD_MARK
            not in cluster.deployment("api-gateway")["metadata"]["annotations"]
        )
        assert cluster.rolled_out("api-gateway")
        assert Path(tmp_path / "store.db").exists()


class TestHardRestartUnderAnHpa:
    def test_the_hpa_does_not_fight_the_scale_to_zero(self, scope, cluster, watch):
        """An HPA leaves a target at zero alone; the count comes back afterwards."""
        cluster.add_deployment("api-gateway", replicas=4)
        cluster.add_hpa("api-gateway", low=3, high=10)
        cluster.wait_rolled_out("api-gateway")

        result = hard_restart(scope, "api-gateway", watch=watch)

        assert result["restored_replicas"] == 4
        assert cluster.deployment("api-gateway")["spec"]["replicas"] == 4
