"""Restarting one pod: eviction respects disruption budgets; --force deletes."""

from __future__ import annotations

import pytest

from mgops.errors import InputError
from mgops.runbooks.kube.client import DisruptionBudgetBlocks
from mgops.runbooks.kube.pod_restart import restart_pod
from tests.runbooks.kube.conftest import actions


def first_pod(cluster, app: str) -> str:
    return sorted(p["metadata"]["name"] for p in cluster.pods(app))[0]


class TestRestartPod:
    def test_evicts_and_waits_for_a_ready_replacement(self, scope, cluster, watch):
        """The pod goes through the Eviction API; a new Ready pod takes its place."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")
        victim = first_pod(cluster, "api-gateway")

        result = restart_pod(scope, "api-gateway", victim, watch=watch)

        evictions = [r for r in cluster.writes() if r.path.endswith("/eviction")]
        replacement = next(
            p
            for p in cluster.pods("api-gateway")
            if p["metadata"]["name"] == result["replacement"]
        )
        assert [r.path.split("/")[-2] for r in evictions] == [victim]
        assert result["replacement"] != victim
        assert any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in replacement["status"]["conditions"]
        )

    def test_a_disruption_budget_blocks_the_eviction(self, scope, cluster, watch):
        """minAvailable equal to the replicas: eviction is refused, the pod stays."""
        cluster.add_deployment("api-gateway", replicas=2)
        cluster.add_pdb("api-gateway", min_available=2)
        cluster.wait_rolled_out("api-gateway")
        victim = first_pod(cluster, "api-gateway")

        with pytest.raises(DisruptionBudgetBlocks, match="disruption budget"):
            restart_pod(scope, "api-gateway", victim, watch=watch)

        pods = {p["metadata"]["name"]: p for p in cluster.pods("api-gateway")}
        assert "deletionTimestamp" not in pods[victim]["metadata"]
        assert actions(scope.store)[-1].outcome == "refused"

    def test_force_deletes_despite_the_budget(self, scope, cluster, watch):
        """--force deletes the pod (no eviction) and still waits for the replacement."""
        cluster.add_deployment("api-gateway", replicas=2)
        cluster.add_pdb("api-gateway", min_available=2)
        cluster.wait_rolled_out("api-gateway")
        victim = first_pod(cluster, "api-gateway")

        result = restart_pod(scope, "api-gateway", victim, force=True, watch=watch)

        deletes = [r for r in cluster.writes() if r.method == "DELETE"]
        assert result["method"] == "delete"
        assert [r.path.rsplit("/", 1)[-1] for r in deletes] == [victim]
        assert result["replacement"]

    def test_a_pod_of_another_service_is_rejected(self, scope, cluster, watch):
        """The pod must belong to the service named; nothing is evicted otherwise."""
        cluster.add_deployment("api-gateway", replicas=1)
        cluster.add_deployment("auth-service", replicas=1)
        cluster.wait_rolled_out("auth-service")
        other = first_pod(cluster, "auth-service")

        with pytest.raises(InputError, match="does not belong"):
            restart_pod(scope, "api-gateway", other, watch=watch)

        assert cluster.writes() == []
