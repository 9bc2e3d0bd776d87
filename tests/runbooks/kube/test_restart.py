"""Rolling restarts: the patch, the rollout rule, failing rollouts, R7, health."""

from __future__ import annotations

import dataclasses
import time

import pytest

from mgops.errors import ActionRefused, ActionTimeout, TargetError
from mgops.runbooks.kube.restart import rolling_restart
from mgops.runbooks.kube.rollout import RolloutFailed
from mgops.store.models import TimelineEntry
from tests.runbooks.kube.conftest import actions

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class TestRollingRestart:
    def test_patches_only_the_restart_annotation_and_rolls_out(
        self, scope, cluster, watch
    ):
        """A merge patch sets restartedAt; the template's other annotations stay."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")
        before = {p["metadata"]["name"] for p in cluster.pods("api-gateway")}

        result = rolling_restart(scope, "api-gateway", watch=watch)

        template = cluster.deployment("api-gateway")["spec"]["template"]["metadata"]
        after = {
            p["metadata"]["name"]
            for p in cluster.pods("api-gateway")
            if not p["metadata"].get("deletionTimestamp")
        }
        patches = [r for r in cluster.writes() if r.method == "PATCH"]
        assert template["annotations"]["team"] == "media"
        assert RESTARTED_AT in template["annotations"]
        assert [p.content_type for p in patches] == ["application/merge-patch+json"]
        assert patches[0].body == {
            "spec": {
                "template": {
                    "metadata": {
                        "annotations": {
                            RESTARTED_AT: result["patch"]["spec"]["template"][
                                "metadata"
                            ]["annotations"][RESTARTED_AT]
                        }
                    }
                }
            }
        }
        assert result["rollout"]["done"] is True
        assert result["health"]["ok"] is True
        assert before.isdisjoint(after)

    def test_two_restarts_in_one_second_both_roll(self, scope, cluster, watch):
        """restartedAt has one-second resolution; the second restart still rolls."""
        cluster.add_deployment("api-gateway", replicas=1)
        cluster.wait_rolled_out("api-gateway")

        first = rolling_restart(scope, "api-gateway", watch=watch)
        second = rolling_restart(scope, "api-gateway", watch=watch)

        assert first["restartedAt"] != second["restartedAt"]
        assert second["generation"] == first["generation"] + 1

    def test_reports_progress_while_it_waits(self, scope, cluster, watch):
        """The progress callback sees the rollout move, ending with success."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")
        seen = []

        rolling_restart(
            scope,
            "api-gateway",
            watch=dataclasses.replace(watch, on_progress=seen.append),
        )

        assert len(seen) >= 2
        assert (seen[-1].done, seen[-1].message) == (True, "successfully rolled out")
        assert not seen[0].done

    def test_is_audited_and_attached_to_the_incident(
        self, scope, cluster, watch, make_incident
    ):
        """The action row and the incident's timeline record start and end."""
        cluster.add_deployment("api-gateway", replicas=2)
        incident = make_incident()

        rolling_restart(scope, "api-gateway", incident_id=incident, watch=watch)

        [row] = actions(scope.store, "service.restart")
        with scope.store.session() as session:
            kinds = [
                e.kind
                for e in session.query(TimelineEntry).filter_by(incident_id=incident)
            ]
        assert row.outcome == "succeeded"
        assert row.target == "kube://fake/production/deployments/api-gateway"
        assert row.result["rollout"]["done"] is True
        assert kinds == ["action-started", "action-finished"]

    def test_dry_run_patches_nothing(self, scope, cluster, watch):
        """--dry-run shows the patch and leaves the deployment alone."""
        cluster.add_deployment("api-gateway", replicas=2)

        result = rolling_restart(scope, "api-gateway", dry_run=True, watch=watch)

        assert (
            RESTARTED_AT
            in result["patch"]["spec"]["template"]["metadata"]["annotations"]
        )
        assert cluster.writes() == []
        assert actions(scope.store)[-1].outcome == "dry-run"

    def test_a_failing_health_url_fails_the_restart(
        self, scope, cluster, watch, make_policy
    ):
        """Rolled out but unhealthy is not success: the action fails and says why."""
        cluster.add_deployment("api-gateway", replicas=2)
        broken = dataclasses.replace(scope, policy=make_policy(broken=("api-gateway",)))
        quick = dataclasses.replace(watch)

        with pytest.raises(TargetError, match=r"health URL .* failed: HTTP 503"):
            rolling_restart(broken, "api-gateway", watch=quick)

        assert actions(scope.store)[-1].outcome == "failed"


class TestPausedDeployment:
    """Case R7: restart a paused deployment."""

    def test_refused_with_the_reason_and_nothing_patched(self, scope, cluster, watch):
        """R7: refused, the reason names the pause, no write reaches the API."""
        cluster.add_deployment("api-gateway", replicas=2, paused=True)

        with pytest.raises(ActionRefused, match="is paused") as refused:
            rolling_restart(scope, "api-gateway", watch=watch)

        assert "Nothing was changed" in refused.value.message
        assert cluster.writes() == []
        assert actions(scope.store)[-1].outcome == "refused"


class TestFailingRollouts:
    def test_crash_loop_is_reported_at_once_not_waited_out(self, scope, cluster, watch):
        """New pods in CrashLoopBackOff fail the restart long before the timeout."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")
        cluster.set_fault("api-gateway", "crashloop")
        started = time.monotonic()

        with pytest.raises(RolloutFailed, match="CrashLoopBackOff") as failed:
            rolling_restart(
                scope, "api-gateway", watch=dataclasses.replace(watch, timeout=60)
            )

        assert time.monotonic() - started < 10
        assert failed.value.detail["stuck_pods"][0]["reason"] == "CrashLoopBackOff"
        assert "rollback" in failed.value.message
        assert actions(scope.store)[-1].outcome == "failed"

    def test_image_pull_failure_is_reported_at_once(self, scope, cluster, watch):
        """ImagePullBackOff on a new pod fails the restart straight away."""
        cluster.add_deployment("api-gateway", replicas=2)
        cluster.wait_rolled_out("api-gateway")
        cluster.set_fault("api-gateway", "image-pull")

        with pytest.raises(RolloutFailed, match="ImagePullBackOff"):
            rolling_restart(
                scope, "api-gateway", watch=dataclasses.replace(watch, timeout=60)
            )

    def test_progress_deadline_exceeded_fails(self, scope, cluster, watch):
        """Pods that never get ready trip the deployment's progress deadline."""
        cluster.add_deployment("api-gateway", replicas=2, progress_deadline=1)
        cluster.wait_rolled_out("api-gateway")
        cluster.set_fault("api-gateway", "never-ready")

        with pytest.raises(RolloutFailed, match="exceeded its progress deadline"):
            rolling_restart(
                scope, "api-gateway", watch=dataclasses.replace(watch, timeout=30)
            )

    def test_times_out_when_nothing_decides(self, scope, cluster, watch):
        """Not ready, within the deadline: the command gives up at its own timeout."""
        cluster.add_deployment("api-gateway", replicas=2, progress_deadline=600)
        cluster.wait_rolled_out("api-gateway")
        cluster.set_fault("api-gateway", "never-ready")

        with pytest.raises(ActionTimeout, match="did not finish within 1s"):
            rolling_restart(
                scope, "api-gateway", watch=dataclasses.replace(watch, timeout=1)
            )

    def test_old_pods_crash_looping_do_not_fail_the_restart(
        self, scope, cluster, watch
    ):
        """A restart meant to cure crashing pods is judged on the new pods only."""
        cluster.set_fault("api-gateway", "crashloop")
        cluster.add_deployment("api-gateway", replicas=2)
        cluster.wait_for(
            lambda: any(
                (c.get("state") or {}).get("waiting", {}).get("reason")
                == "CrashLoopBackOff"
                for p in cluster.pods("api-gateway")
                for c in p["status"].get("containerStatuses", [])
            )
        )
        cluster.set_fault("api-gateway", None)

        result = rolling_restart(scope, "api-gateway", watch=watch)

        assert result["rollout"]["done"] is True
