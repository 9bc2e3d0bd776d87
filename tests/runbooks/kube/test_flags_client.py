"""Flag propagation, the rollout rule as kubectl states it, and the client's
boundary: explicit configuration and translated errors."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from mgops.clock import SYSTEM_CLOCK
from mgops.errors import ActionTimeout, InputError, NotFound, TargetUnreachable
from mgops.runbooks.kube.client import KubeClient, KubeTarget
from mgops.runbooks.kube.flags import expected_value, verify_flag
from mgops.runbooks.kube.rollout import RolloutFailed, rollout_state, stuck_pods
from mgops.runbooks.prometheus import PrometheusClient
from tests.servers import free_port


class TestFlagsVerify:
    def test_waits_for_the_value_to_propagate(self, flag_server, http):
        """The value flips after 2 reads; 3 agreeing reads in a row confirm it."""
        server = flag_server({"new_player": False}, {"new_player": True}, flip_after=2)

        result = verify_flag(
            server.url,
            "new_player",
            True,
            http=http,
            clock=SYSTEM_CLOCK,
            interval=0.05,
            consecutive=3,
        )

        assert result["propagated"] is True
        assert result["reads"] == 5

    def test_times_out_with_the_last_value_seen(self, flag_server, http):
        """A value that never arrives ends in ActionTimeout naming what was read."""
        server = flag_server({"new_player": "off"}, {"new_player": "off"}, flip_after=0)

        with pytest.raises(ActionTimeout, match='last read: "off"'):
            verify_flag(
                server.url,
                "new_player",
                "on",
                http=http,
                clock=SYSTEM_CLOCK,
                timeout=0.3,
                interval=0.05,
            )

    def test_dotted_flags_and_json_values(self, flag_server, http):
        """``rollout.percent`` reads a nested key; ``--expect 25`` means the number."""
        server = flag_server(
            {"rollout": {"percent": 25}}, {"rollout": {"percent": 25}}, 0
        )

        result = verify_flag(
            server.url,
            "rollout.percent",
            expected_value("25"),
            http=http,
            clock=SYSTEM_CLOCK,
            interval=0.01,
        )

        assert result["expected"] == 25
        assert expected_value("on") == "on"


def deployment(**status: Any) -> dict[str, Any]:
    meta = {"name": "api", "generation": status.pop("generation", 2)}
    return {"metadata": meta, "spec": {"replicas": 3}, "status": status}


class TestRolloutRule:
    """kubectl's success rule, one clause per test."""

    def test_unobserved_generation_is_not_done(self):
        """observedGeneration behind generation: still waiting."""
        state = rollout_state(
            deployment(
                observedGeneration=1, updatedReplicas=3, replicas=3, availableReplicas=3
            )
        )

        assert not state.done

    def test_updated_below_desired_is_not_done(self):
        state = rollout_state(
            deployment(
                observedGeneration=2, updatedReplicas=2, replicas=3, availableReplicas=3
            )
        )

        assert (state.done, state.message) == (False, "2 of 3 new replicas updated")

    def test_old_replicas_left_is_not_done(self):
        state = rollout_state(
            deployment(
                observedGeneration=2, updatedReplicas=3, replicas=4, availableReplicas=3
            )
        )

        assert state.message == "1 old replicas pending termination"

    def test_unavailable_updated_replicas_is_not_done(self):
        state = rollout_state(
            deployment(
                observedGeneration=2, updatedReplicas=3, replicas=3, availableReplicas=2
            )
        )

        assert state.message == "2 of 3 updated replicas available"

    def test_all_clauses_met_is_done(self):
        state = rollout_state(
            deployment(
                observedGeneration=2, updatedReplicas=3, replicas=3, availableReplicas=3
            )
        )

        assert state.done

    def test_progress_deadline_exceeded_fails(self):
        dep = deployment(
            observedGeneration=2,
            conditions=[
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": "timed out",
                }
            ],
        )

        with pytest.raises(RolloutFailed, match="progress deadline"):
            rollout_state(dep)

    def test_stuck_pods_only_of_the_new_template(self):
        """A crash-looping pod of the old template is not the new rollout's fault."""

        def pod(name: str, template: str, reason: str) -> dict[str, Any]:
            return {
                "metadata": {"name": name, "labels": {"pod-template-hash": template}},
                "status": {
                    "containerStatuses": [
                        {"name": "app", "state": {"waiting": {"reason": reason}}}
                    ]
                },
            }

        found = stuck_pods(
            [
                pod("old", "aaa", "CrashLoopBackOff"),
                pod("new", "bbb", "ImagePullBackOff"),
                pod("ok", "bbb", "ContainerCreating"),
            ],
            "bbb",
        )

        assert [(p["pod"], p["reason"]) for p in found] == [("new", "ImagePullBackOff")]


class TestClientBoundary:
    def test_no_kubeconfig_is_an_error_not_a_fallback(self):
        """Without --kubeconfig or KUBECONFIG, mgops refuses to guess a cluster."""
        with pytest.raises(InputError, match=r"does\s+not fall back"):
            KubeClient.connect(KubeTarget())

    def test_an_unknown_context_is_an_input_error(self, kubeconfig):
        with pytest.raises(InputError, match="not usable"):
            KubeClient.connect(
                KubeTarget(kubeconfig=str(kubeconfig), context="prod-eu")
            )

    def test_a_missing_object_is_not_found(self, kube, cluster):
        with pytest.raises(NotFound, match="deployment production/nothing"):
            kube.get_deployment("production", "nothing")

    def test_a_dead_server_is_unreachable_quickly(self, tmp_path):
        """Nothing listening: TargetUnreachable within the short timeouts."""
        config = tmp_path / "dead"
        config.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
            f"clusters: [{{name: dead, cluster: {{server: 'http://127.0.0.1:{free_port()}'}}}}]\n"
            "users: [{name: u, user: {token: t}}]\n"
            "contexts: [{name: dead, context: {cluster: dead, user: u}}]\n"
        )
        client = KubeClient.connect(KubeTarget(kubeconfig=str(config)))
        started = time.monotonic()

        with pytest.raises(TargetUnreachable, match="did not answer"):
            client.get_deployment("production", "api-gateway")

        assert time.monotonic() - started < 5


class TestPrometheusClient:
    def test_a_bad_query_is_an_input_error(self, prometheus):
        client = PrometheusClient(prometheus.url)

        with pytest.raises(InputError, match="rejected the query"):
            client.query("sum(rate(")

    def test_an_absent_prometheus_is_unreachable(self):
        client = PrometheusClient(
            f"http://127.0.0.1:{free_port()}", http=httpx.Client(timeout=1)
        )

        with pytest.raises(TargetUnreachable):
            client.query("up")
