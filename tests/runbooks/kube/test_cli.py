"""`mgops service …` end to end: parse, call the core, render, exit code."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from mgops import exitcodes
from mgops.cli.main import run
from tests.runbooks.kube.conftest import WINDOW
from tests.runbooks.kube.test_config_secret import MOUNTS_CONFIG, write_manifest


@pytest.fixture
def mgops(kubeconfig, tmp_path, make_policy, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(make_policy().model_dump(mode="json")))
    db = f"sqlite:///{tmp_path / 'store.db'}"

    def invoke(*args: str, kube: bool = True) -> tuple[int, str, str]:
        extra = [f"--kubeconfig={kubeconfig}"] if kube else []
        monkeypatch.setattr(
            sys, "argv", ["mgops", "--db", db, "--policy", str(policy), *args, *extra]
        )
        with pytest.raises(SystemExit) as done:
            run()
        out, err = capsys.readouterr()
        return int(done.value.code or 0), out, err

    return invoke


class TestServiceCli:
    def test_status_of_all_services_as_json(self, cluster, mgops):
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.wait_rolled_out("api-gateway")

        code, out, _ = mgops("service", "status", "--json")

        rows = {r["service"]: r for r in json.loads(out)}
        assert code == exitcodes.OK
        assert rows["api-gateway"]["ready"] == 3

    def test_status_of_one_service_shows_its_pods(self, cluster, mgops):
        cluster.add_deployment("api-gateway", replicas=2)
        cluster.wait_rolled_out("api-gateway")

        code, out, _ = mgops("service", "status", "api-gateway")

        assert code == exitcodes.OK
        assert all(p["metadata"]["name"] in out for p in cluster.pods("api-gateway"))

    def test_restart_paused_exits_refused_with_a_sentence(self, cluster, mgops):
        """R7 through the CLI: exit 5, the reason on stderr, no traceback."""
        cluster.add_deployment("api-gateway", replicas=2, paused=True)

        code, _, err = mgops("service", "restart", "api-gateway")

        assert code == exitcodes.REFUSED
        assert "is paused" in err
        assert "Traceback" not in err
        assert cluster.writes() == []

    def test_restart_rolls_out_and_reports_health(self, cluster, mgops):
        cluster.add_deployment("api-gateway", replicas=2)
        cluster.wait_rolled_out("api-gateway")

        code, out, _ = mgops("service", "restart", "api-gateway", "--timeout=30s")

        assert code == exitcodes.OK
        assert "successfully rolled out" in out
        assert "ok HTTP 200" in out

    def test_hard_restart_needs_confirmation(self, cluster, mgops):
        """Without --yes and without a terminal, the outage is not started."""
        cluster.add_deployment("api-gateway", replicas=2)

        code, _, err = mgops("service", "restart", "api-gateway", "--hard")

        assert code == exitcodes.REFUSED
        assert "outage" in err
        assert "--yes" in err
        assert cluster.writes() == []

    def test_scale_under_an_hpa_changes_its_bounds(self, cluster, mgops):
        """R8 through the CLI: the output names the HPA and why."""
        cluster.add_deployment("api-gateway", replicas=3)
        cluster.add_hpa("api-gateway", low=3, high=10)

        code, out, _ = mgops("service", "scale", "api-gateway", "5", "--timeout=30s")

        assert code == exitcodes.OK
        assert "HPA api-gateway: min 3 → 5" in out
        assert "would revert" in out

    def test_scale_down_refused_from_prometheus(self, cluster, mgops, workload):
        """The guard's refusal reaches the operator with the numbers."""
        cluster.add_deployment("content-service", replicas=4, namespace="cpu-high")

        code, _, err = mgops(
            "service",
            "scale",
            "content-service",
            "3",
            "-n",
            "cpu-high",
            f"--prometheus-url={workload.url}",
            f"--window={WINDOW}",
        )

        assert code == exitcodes.REFUSED
        assert "limit for scaling down is 70%" in " ".join(err.split())

    def test_config_apply_never_prints_values(self, cluster, mgops, tmp_path):
        cluster.add_deployment("api-gateway", replicas=2, pod_spec=MOUNTS_CONFIG)
        cluster.wait_rolled_out("api-gateway")
        manifest = write_manifest(
            tmp_path / "cm.yaml", {"TOKEN_HINT": "do-not-print-me"}
        )

        code, out, err = mgops(
            "service", "config", "apply", str(manifest), "--timeout=30s"
        )

        assert code == exitcodes.OK, err
        assert "2 pods run config" in out
        assert "do-not-print-me" not in out + err

    def test_history_and_a_dry_run_rollback(self, cluster, mgops):
        cluster.add_deployment("api-gateway", replicas=1)
        cluster.wait_rolled_out("api-gateway")
        cluster.set_image("api-gateway", "media/api:2.0")
        cluster.wait_rolled_out("api-gateway")

        code, out, _ = mgops("service", "history", "api-gateway", "--json")
        rollback_code, rollback_out, _ = mgops(
            "service", "rollback", "api-gateway", "--dry-run", "--json"
        )

        assert code == exitcodes.OK
        assert [r["revision"] for r in json.loads(out)] == [1, 2]
        assert rollback_code == exitcodes.OK
        assert json.loads(rollback_out)["to_revision"] == 1

    def test_flags_verify_reads_the_url_from_the_environment(
        self, mgops, monkeypatch, flag_server
    ):
        server = flag_server({"dark_mode": True}, {"dark_mode": True}, 0)
        monkeypatch.setenv("MGOPS_FLAGS_URL", server.url)

        code, out, _ = mgops(
            "service",
            "flags",
            "verify",
            "dark_mode",
            "--expect",
            "true",
            "--interval=10ms",
            kube=False,
        )

        assert code == exitcodes.OK
        assert "flag dark_mode reads true" in out

    def test_secret_sync_restarts_after_the_refresh(self, cluster, mgops):
        cluster.add_deployment("api-gateway", replicas=2, pod_spec=MOUNTS_CONFIG)
        cluster.add_external_secret("api-keys", "api-keys")
        cluster.wait_rolled_out("api-gateway")

        code, out, err = mgops("service", "secret", "sync", "api-keys", "--timeout=30s")

        assert code == exitcodes.OK, err
        assert "ExternalSecret api-keys refreshed at" in out
        assert "restarted api-gateway" in out

    def test_a_named_target_gives_the_namespace(
        self, cluster, mgops, tmp_path, monkeypatch
    ):
        """--target reads kube_namespace from the mgops config file."""
        config = tmp_path / "config.yaml"
        config.write_text("targets:\n  staging:\n    kube_namespace: staging\n")
        monkeypatch.setenv("MGOPS_CONFIG", str(config))
        cluster.add_deployment("api-gateway", replicas=1, namespace="staging")

        code, out, _ = mgops(
            "service", "status", "api-gateway", "--target", "staging", "--json"
        )

        assert code == exitcodes.OK
        assert json.loads(out)["namespace"] == "staging"

    def test_no_kubeconfig_is_a_usage_error(self, mgops):
        code, _, err = mgops("service", "status", kube=False)

        assert code == exitcodes.USAGE
        assert "pass --kubeconfig" in err

    def test_an_unknown_incident_stops_before_any_change(self, cluster, mgops):
        cluster.add_deployment("api-gateway", replicas=2)

        code, _, err = mgops("service", "restart", "api-gateway", "--incident", "99")

        assert code == exitcodes.NOT_FOUND
        assert "Incident 99 does not exist" in err
        assert cluster.writes() == []


class TestLogsFromPods:
    def test_logs_query_reads_the_service_pods(self, cluster, mgops):  # type: ignore[no-untyped-def]
        """`mgops logs query … --service S` searches the pods' logs."""
        cluster.add_deployment("api-gateway", replicas=2)
        cluster.wait_rolled_out("api-gateway")
        for n, pod in enumerate(cluster.pods("api-gateway")):
            name = pod["metadata"]["name"]
            cluster.add_log(name, '{"severity":"ERROR","path":"/v1/play"}')
            cluster.add_log(name, f'{{"severity":"INFO","path":"/health","n":{n}}}')

        code, out, err = mgops(
            "logs",
            "query",
            "severity>=ERROR | groupBy path | count",
            "--service",
            "api-gateway",
            "--format",
            "json",
            "-n",
            "production",
        )

        assert 0 == code, err
        assert [{"path": "/v1/play", "count": 2}] == json.loads(out)["rows"]
