"""Scaling: policy bounds, HPA bounds instead of a reverted scale (R8), and the
CPU guard fed by a real Prometheus."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from mgops.errors import ActionRefused
from mgops.runbooks.kube.scale import scale, watch_after_scale
from mgops.runbooks.kube.scope import Scope
from mgops.runbooks.prometheus import PrometheusClient
from mgops.store.models import Action
from tests.runbooks.kube.conftest import WINDOW
from tests.runbooks.kube.promserver import PrometheusServer


@pytest.fixture
def prom(workload: PrometheusServer) -> Iterator[PrometheusClient]:
    client = PrometheusClient(workload.url)
    yield client
    client.close()


def in_namespace(scope: Scope, namespace: str) -> Scope:
    return dataclasses.replace(scope, namespace=namespace)


def last_action(scope: Scope) -> Action:
    with scope.store.session() as session:
        return session.query(Action).order_by(Action.id.desc()).first()  # type: ignore[return-value]


class TestPolicyBounds:
    def test_above_the_policy_maximum_is_refused(self, scope, cluster):
        """api-gateway may run at most 20 replicas; 25 is refused before any call."""
        cluster.add_deployment("api-gateway", replicas=3)

        with pytest.raises(ActionRefused, match="between 3 and 20"):
            scale(scope, "api-gateway", 25, prometheus=None, force=True)

        assert cluster.writes() == []

    def test_scale_up_without_hpa_patches_the_scale_subresource(
        self, scope, cluster, watch
    ):
        """A plain scale up reaches N ready pods and says so."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")

        result = scale(scope, "api-gateway", 5, prometheus=None, watch=watch)

        assert result["rollout"]["done"] is True
        assert cluster.deployment("api-gateway")["spec"]["replicas"] == 5
        assert [r.path for r in cluster.writes()] == [
            "/apis/apps/v1/namespaces/production/deployments/api-gateway/scale"
        ]

    def test_dry_run_changes_nothing(self, scope, cluster, watch):
        """--dry-run reports the plan and writes nothing."""
        cluster.add_deployment("api-gateway", replicas=3)

        result = scale(
            scope, "api-gateway", 6, prometheus=None, dry_run=True, watch=watch
        )

        assert (result["from"], result["to"], result["dry_run"]) == (3, 6, True)
        assert cluster.writes() == []
        assert last_action(scope).outcome == "dry-run"


class TestHpaManagedDeployments:
    """Case R8: a deployment that an HPA manages."""

    def test_scale_changes_the_hpa_bounds_not_the_replicas(self, scope, cluster, watch):
        """R8: the HPA's minReplicas becomes N; the deployment is never scaled bare."""
        cluster.add_deployment("api-gateway", replicas=4)
        cluster.add_hpa("api-gateway", low=3, high=10)
        cluster.wait_rolled_out("api-gateway")

        result = scale(scope, "api-gateway", 6, prometheus=None, watch=watch)

        hpa = cluster.store.get(
            "autoscaling", "horizontalpodautoscalers", "production", "api-gateway"
        )
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (6, 10)
        assert result["hpa"]["before"] == {"minReplicas": 3, "maxReplicas": 10}
        assert "would revert" in result["hpa"]["why"]
        assert cluster.deployment("api-gateway")["spec"]["replicas"] == 6
        assert all("deployments" not in r.path for r in cluster.writes())

    def test_scale_above_the_hpa_maximum_raises_it(self, scope, cluster, watch):
        """N above the HPA's max lifts max to N too (still within the policy)."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.add_hpa("api-gateway", low=3, high=5)

        result = scale(scope, "api-gateway", 8, prometheus=None, watch=watch)

        assert result["hpa"]["after"] == {"minReplicas": 8, "maxReplicas": 8}

    def test_zero_replicas_under_an_hpa_is_refused_with_the_reason(
        self, scope, cluster
    ):
        """R8: what bounds cannot express is refused, with why, and nothing changes."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.add_hpa("api-gateway", low=3, high=10)
        policy = scope.policy
        zero_ok = policy.model_copy(
            update={
                "services": [
                    s.model_copy(update={"min_replicas": 0}) for s in policy.services
                ]
            }
        )

        with pytest.raises(ActionRefused, match="cannot keep it at 0"):
            scale(
                dataclasses.replace(scope, policy=zero_ok),
                "api-gateway",
                0,
                prometheus=None,
                force=True,
            )

        assert cluster.writes() == []
        assert last_action(scope).outcome == "refused"


class TestScaleDownGuard:
    def test_refused_when_projected_cpu_is_over_70_percent(self, scope, cluster, prom):
        """4 pods at 60% each would run at 80% on 3: refused, nothing scaled."""
        cluster.add_deployment("content-service", replicas=4, namespace="cpu-high")
        here = in_namespace(scope, "cpu-high")

        # rate() over a real scrape wobbles by a point or two on a loaded machine.
        with pytest.raises(
            ActionRefused, match=r"about (7[5-9]|8[0-9])% CPU"
        ) as refused:
            scale(here, "content-service", 3, prometheus=prom, window=WINDOW)

        assert refused.value.detail["pods_measured"] == 4
        assert (
            cluster.deployment("content-service", "cpu-high")["spec"]["replicas"] == 4
        )
        assert cluster.writes() == []
        assert last_action(here).outcome == "refused"

    def test_allowed_when_projected_cpu_is_under_70_percent(
        self, scope, cluster, prom, watch
    ):
        """4 pods at 30% each would run at 40% on 3: scaled down."""
        cluster.add_deployment("content-service", replicas=4, namespace="cpu-low")
        here = in_namespace(scope, "cpu-low")

        result = scale(
            here, "content-service", 3, prometheus=prom, window=WINDOW, watch=watch
        )

        assert 36 <= result["cpu_guard"]["projected_percent"] <= 44
        assert result["cpu_guard"]["overridden"] is False
        assert cluster.deployment("content-service", "cpu-low")["spec"]["replicas"] == 3

    def test_force_overrides_the_guard_and_says_so(self, scope, cluster, prom, watch):
        """--force scales down anyway; the result records the override."""
        cluster.add_deployment("content-service", replicas=4, namespace="cpu-high")
        here = in_namespace(scope, "cpu-high")

        result = scale(
            here,
            "content-service",
            3,
            prometheus=prom,
            force=True,
            window=WINDOW,
            watch=watch,
        )

        assert result["cpu_guard"]["overridden"] is True
        assert (
            cluster.deployment("content-service", "cpu-high")["spec"]["replicas"] == 3
        )

    def test_no_data_means_no_scale_down(self, scope, cluster, prom):
        """A namespace Prometheus knows nothing about cannot pass the guard."""
        cluster.add_deployment("content-service", replicas=4, namespace="unmeasured")

        with pytest.raises(ActionRefused, match="no CPU data"):
            scale(
                in_namespace(scope, "unmeasured"),
                "content-service",
                3,
                prometheus=prom,
                window=WINDOW,
            )

    def test_without_prometheus_scale_down_is_refused(self, scope, cluster):
        """No Prometheus URL: the guard cannot run, so scaling down needs --force."""
        cluster.add_deployment("api-gateway", replicas=5)

        with pytest.raises(ActionRefused, match=r"no\s+Prometheus URL"):
            scale(scope, "api-gateway", 4, prometheus=None)

        assert cluster.writes() == []


class TestWatchAfterScale:
    def test_a_steady_service_passes_all_three_checks(self, scope, prom):
        """Stable errors and latency, CPU 40%: the report is ok."""
        report = watch_after_scale(
            in_namespace(scope, "watch-ok"),
            "search-service",
            prometheus=prom,
            duration=2.0,
            interval=1.0,
            window=WINDOW,
        )

        assert report.ok, report.checks
        assert len(report.samples) >= 3
        assert 0.005 < report.checks["error_rate_stable"]["worst"] < 0.02

    def test_cpu_at_90_percent_fails_the_watch(self, scope, prom):
        """CPU must stay below 80%: 90% per pod fails, and the audit says regressed."""
        here = in_namespace(scope, "watch-hot")

        report = watch_after_scale(
            here,
            "search-service",
            prometheus=prom,
            duration=1.0,
            interval=1.0,
            window=WINDOW,
        )

        assert not report.ok
        assert report.checks["cpu_below_80"]["ok"] is False
        assert report.checks["cpu_below_80"]["worst"] > 85
        assert last_action(here).outcome == "regressed"

    def test_no_traffic_data_fails_rather_than_passes(self, scope, prom):
        """Missing metrics are not evidence of stability."""
        report = watch_after_scale(
            in_namespace(scope, "nowhere"),
            "search-service",
            prometheus=prom,
            duration=0,
            interval=1.0,
            window=WINDOW,
        )

        assert report.checks["error_rate_stable"] == {
            "ok": False,
            "detail": "no data in Prometheus",
        }
