"""Revisions and rollback, the status view, and pod logs as a log source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mgops.errors import ActionRefused, NotFound
from mgops.runbooks.kube.history import history, rollback
from mgops.runbooks.kube.logs import pod_log_lines
from mgops.runbooks.kube.status import overview, service_status


def three_revisions(cluster) -> None:
    cluster.add_deployment("api-gateway", replicas=2, image="media/api:1.0")
    cluster.wait_rolled_out("api-gateway")
    for image in ("media/api:1.1", "media/api:1.2"):
        cluster.set_image("api-gateway", image)
        cluster.wait_rolled_out("api-gateway")


class TestHistoryAndRollback:
    def test_history_lists_revisions_oldest_first(self, scope, cluster):
        """Each ReplicaSet is a revision with its image; the newest is current."""
        three_revisions(cluster)

        rows = history(scope, "api-gateway")

        assert [(r["revision"], r["images"], r["current"]) for r in rows] == [
            (1, ["media/api:1.0"], False),
            (2, ["media/api:1.1"], False),
            (3, ["media/api:1.2"], True),
        ]

    def test_rollback_goes_to_the_previous_revision(self, scope, cluster, watch):
        """Without --to, the revision before the current one comes back."""
        three_revisions(cluster)

        result = rollback(scope, "api-gateway", watch=watch)

        image = cluster.deployment("api-gateway")["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
        assert (result["from_revision"], result["to_revision"]) == (3, 2)
        assert image == "media/api:1.1"
        assert result["revision_now"] == 4
        assert result["rollout"]["done"] is True
        assert [r.content_type for r in cluster.writes() if r.method == "PATCH"] == [
            "application/json-patch+json"
        ]

    def test_rollback_to_a_named_revision(self, scope, cluster, watch):
        """--to 1 brings back the first image."""
        three_revisions(cluster)

        rollback(scope, "api-gateway", to_revision=1, watch=watch)

        image = cluster.deployment("api-gateway")["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
        assert image == "media/api:1.0"

    def test_an_unknown_revision_names_the_known_ones(self, scope, cluster, watch):
        """--to 9 fails and lists 1, 2, 3; nothing is patched."""
        three_revisions(cluster)
        writes = len(cluster.writes())

        with pytest.raises(NotFound, match="known: 1, 2, 3"):
            rollback(scope, "api-gateway", to_revision=9, watch=watch)

        assert len(cluster.writes()) == writes

    def test_a_paused_deployment_is_not_rolled_back(self, scope, cluster, watch):
        """As kubectl does, a paused deployment refuses a rollback."""
        cluster.add_deployment("api-gateway", replicas=1, paused=True)

        with pytest.raises(ActionRefused, match="paused"):
            rollback(scope, "api-gateway", watch=watch)


class TestStatus:
    def test_service_status_shows_pods_hpa_events_and_revision(self, scope, cluster):
        """One call gathers what the runbook's kubectl commands show."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.add_hpa("api-gateway", low=3, high=20)
        cluster.wait_rolled_out("api-gateway")

        status = service_status(scope, "api-gateway")

        assert (status["ready"], status["desired"], status["revision"]) == (3, 3, 1)
        assert [p["ready"] for p in status["pods"]] == [True, True, True]
        assert (status["hpa"]["min"], status["hpa"]["max"]) == (3, 20)
        assert any(e["reason"] == "ScalingReplicaSet" for e in status["events"])
        assert status["conditions"]["Available"].startswith("True")

    def test_crash_looping_pods_are_flagged(self, scope, cluster):
        """A pod in CrashLoopBackOff shows its reason, restarts and is marked stuck."""
        cluster.set_fault("api-gateway", "crashloop")
        cluster.add_deployment("api-gateway", replicas=1)
        cluster.wait_for(
            lambda: any(
                p["stuck"] for p in service_status(scope, "api-gateway")["pods"]
            )
        )

        pod = service_status(scope, "api-gateway")["pods"][0]

        assert pod["status"] == "CrashLoopBackOff"
        assert pod["ready"] is False
        assert pod["restarts"] >= 1

    def test_overview_covers_every_policy_service(self, scope, cluster):
        """Missing deployments are listed as such, not an error."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")

        rows = {r["service"]: r for r in overview(scope)}

        assert set(rows) == {s.name for s in scope.policy.services}
        assert rows["api-gateway"]["healthy"] is True
        assert rows["auth-service"]["found"] is False

    def test_an_unknown_service_names_the_known_ones(self, scope):
        """A typo gets the list of services from the policy."""
        with pytest.raises(NotFound, match="api-gateway"):
            service_status(scope, "api-gatewya")


class TestPodLogs:
    def test_yields_the_raw_lines_of_the_service_pods(self, kube, cluster):
        """Every pod's log lines come back verbatim, other services' do not."""
        cluster.add_deployment("api-gateway", replicas=2)
        cluster.add_deployment("auth-service", replicas=1)
        cluster.wait_rolled_out("api-gateway")
        cluster.wait_rolled_out("auth-service")
        for pod in cluster.pods("api-gateway"):
            cluster.add_log(
                pod["metadata"]["name"], '{"severity":"ERROR","path":"/v1/play"}'
            )
        for pod in cluster.pods("auth-service"):
            cluster.add_log(
                pod["metadata"]["name"], '{"severity":"ERROR","path":"/login"}'
            )

        lines = list(pod_log_lines(kube, "api-gateway", "production"))

        assert lines.count('{"severity":"ERROR","path":"/v1/play"}') == 2
        assert not any("/login" in line for line in lines)

    def test_since_limits_to_recent_lines(self, kube, cluster):
        """--since 1h drops what was logged two hours ago."""
        cluster.add_deployment("api-gateway", replicas=1)
        cluster.wait_rolled_out("api-gateway")
        pod = cluster.pods("api-gateway")[0]["metadata"]["name"]
        cluster.add_log(pod, "old line", at=datetime.now(UTC) - timedelta(hours=2))
        cluster.add_log(pod, "new line")

        lines = list(
            pod_log_lines(kube, "api-gateway", "production", since=timedelta(hours=1))
        )

        assert "new line" in lines
        assert "old line" not in lines

    def test_an_unknown_service_is_not_found(self, kube, cluster):
        """No deployment, no logs: a clear NotFound."""
        with pytest.raises(NotFound, match="no deployment nowhere"):
            list(pod_log_lines(kube, "nowhere", "production"))
