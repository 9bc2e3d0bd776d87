"""The ``mgops pg|redis|qdrant`` commands as an operator runs them: a real process,
no terminal on stdin, real servers, exit codes and JSON on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from mgops import exitcodes
from mgops.cli import main
from mgops.runbooks.redis.client import RedisTarget
from mgops.store.db import Store
from tests.conftest import shared_path
from tests.runbooks.helpers import actions, timeline
from tests.runbooks.qdrant_fake import Contract, FakeQdrant, load_contract, serve
from tests.servers import PostgresServer, start_standby


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def mgops(store: Store, tmp_path: Path) -> Callable[..., Outcome]:
    """Run the real entry point in-process on the test's store, with no terminal."""

    def run(*args: str, env: dict[str, str] | None = None) -> Outcome:
        settings = {k: None for k in os.environ if k.startswith("MGOPS_")}
        settings.update(
            MGOPS_DATABASE_URL=store.url,
            MGOPS_CONFIG=str(tmp_path / "no-config.yaml"),
            MGOPS_ACTOR="tester",
        )
        settings.update(env or {})
        runner = CliRunner()
        with runner.isolation(env=settings) as (out, err, _):
            argv, sys.argv = sys.argv, ["mgops", *args]
            try:
                main.run()
            except SystemExit as exc:
                code = int(exc.code or 0)
            finally:
                sys.argv = argv
                sys.stdout.flush()
                sys.stderr.flush()
            return Outcome(code, out.getvalue().decode(), err.getvalue().decode())

    return run


def as_json(result: Outcome) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class TestSettings:
    def test_no_url_is_a_usage_error_that_names_the_ways(self, tmp_path: Path) -> None:
        """A real process without --url, env or --target: exit 2, a sentence."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MGOPS_")}
        env["MGOPS_CONFIG"] = str(tmp_path / "none.yaml")
        result = subprocess.run(
            [sys.executable, "-m", "mgops", "redis", "dbsize"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=60,
        )

        assert result.returncode == exitcodes.USAGE
        assert "MGOPS_REDIS_URL" in result.stderr
        assert "Traceback" not in result.stderr

    def test_env_then_target_from_the_config(
        self, mgops: Any, redis_target: RedisTarget, tmp_path: Path
    ) -> None:
        """MGOPS_REDIS_URL works; so does --target NAME from the config file."""
        redis_target.client.set("a", 1)
        config = tmp_path / "config.yaml"
        config.write_text(f"targets:\n  prod:\n    redis_url: {redis_target.url}\n")

        by_env = as_json(
            mgops(
                "redis", "dbsize", "--json", env={"MGOPS_REDIS_URL": redis_target.url}
            )
        )
        by_target = as_json(
            mgops(
                "redis",
                "dbsize",
                "--target",
                "prod",
                "--json",
                env={"MGOPS_CONFIG": str(config)},
            )
        )

        assert by_env["total"] == by_target["total"] == 1

    def test_unreachable_server_is_exit_7(self, mgops: Any) -> None:
        result = mgops("redis", "memory", "--url", "redis://127.0.0.1:1/0")

        assert result.returncode == exitcodes.UNAVAILABLE
        assert "did not answer" in result.stderr


class TestRedisCli:
    def test_delete_pattern_is_a_dry_run_by_default(
        self, mgops: Any, redis_target: RedisTarget, store: Store
    ) -> None:
        """Count and sample, nothing deleted, audited as a dry run."""
        redis_target.client.mset({f"content:{i}": 1 for i in range(30)} | {"keep": 1})

        report = as_json(
            mgops(
                "redis",
                "delete-pattern",
                "content:*",
                "--url",
                redis_target.url,
                "--json",
            )
        )

        assert (report["matched"], report["deleted"], report["applied"]) == (
            30,
            0,
            False,
        )
        assert redis_target.client.dbsize() == 31
        assert actions(store)[-1].outcome == "dry-run"

    def test_apply_without_a_terminal_or_yes_is_refused(
        self, mgops: Any, redis_target: RedisTarget
    ) -> None:
        """--apply needs the typed confirmation or --yes; nothing is deleted."""
        redis_target.client.mset({f"content:{i}": 1 for i in range(30)})

        refused = mgops(
            "redis", "delete-pattern", "content:*", "--apply", "--url", redis_target.url
        )
        applied = as_json(
            mgops(
                "redis",
                "delete-pattern",
                "content:*",
                "--apply",
                "--yes",
                "--url",
                redis_target.url,
                "--json",
            )
        )

        assert refused.returncode == exitcodes.REFUSED
        assert "--yes" in refused.stderr
        assert applied["deleted"] == 30
        assert redis_target.client.dbsize() == 0

    def test_flushdb_names_host_and_db_and_attaches_to_the_incident(
        self,
        mgops: Any,
        redis_target: RedisTarget,
        store: Store,
        make_incident: Callable[..., int],
    ) -> None:
        incident = make_incident()
        redis_target.client.mset({"a": 1, "b": 2})

        refused = mgops("redis", "flushdb", "--url", redis_target.url)
        done = mgops(
            "redis",
            "flushdb",
            "--yes",
            "--incident",
            str(incident),
            "--url",
            redis_target.url,
        )

        assert refused.returncode == exitcodes.REFUSED
        assert f"flushdb {redis_target.host}/0" in " ".join(refused.stderr.split())
        assert done.returncode == 0, done.stderr
        assert redis_target.client.dbsize() == 0
        assert [e.kind for e in timeline(store, incident)] == [
            "action-started",
            "action-finished",
        ]

    def test_sessions_list_and_ttl(self, mgops: Any, redis_target: RedisTarget) -> None:
        redis_target.client.set("session:user:42:a", 1, ex=100)
        redis_target.client.set("session:user:420:b", 1)

        listed = as_json(
            mgops(
                "redis",
                "sessions",
                "list",
                "--user",
                "42",
                "--url",
                redis_target.url,
                "--json",
            )
        )

        assert [s["key"] for s in listed] == ["session:user:42:a"]
        assert 0 < listed[0]["ttl_seconds"] <= 100


class TestPgCli:
    def test_cancel_of_an_idle_in_transaction_holder_explains_and_refuses(
        self, mgops: Any, postgres_db: str, store: Store
    ) -> None:
        """Without a terminal the offer to terminate becomes a refusal saying why."""
        holder = psycopg.connect(postgres_db)
        holder.execute("select 1")
        pid = holder.info.backend_pid

        result = mgops("pg", "cancel", str(pid), "--url", postgres_db)

        assert result.returncode == exitcodes.REFUSED
        assert "mgops pg terminate" in " ".join(result.stderr.split())
        assert actions(store)[-1].outcome == "refused"
        holder.close()

    def test_terminate_needs_yes_then_ends_the_backend(
        self, mgops: Any, postgres_db: str
    ) -> None:
        holder = psycopg.connect(postgres_db)
        holder.execute("select 1")
        pid = holder.info.backend_pid

        refused = mgops("pg", "terminate", str(pid), "--url", postgres_db)
        done = as_json(
            mgops("pg", "terminate", str(pid), "--yes", "--url", postgres_db, "--json")
        )

        assert refused.returncode == exitcodes.REFUSED
        assert done["done"] is True
        with psycopg.connect(postgres_db) as check:
            row = check.execute(
                "select count(*) from pg_stat_activity where pid = %s", (pid,)
            ).fetchone()
        assert row == (0,)
        holder.close()

    def test_backend_start_pins_the_backend(self, mgops: Any, postgres_db: str) -> None:
        """--backend-start as JSON prints it: a different instant is refused."""
        holder = psycopg.connect(postgres_db)
        holder.execute("select 1")
        pid = holder.info.backend_pid
        with psycopg.connect(postgres_db) as check:
            [started] = check.execute(
                "select backend_start from pg_stat_activity where pid = %s", (pid,)
            ).fetchone() or [None]

        wrong = mgops(
            "pg",
            "terminate",
            str(pid),
            "--yes",
            "--url",
            postgres_db,
            "--backend-start",
            "2020-01-01T00:00:00+00:00",
        )
        right = mgops(
            "pg",
            "terminate",
            str(pid),
            "--yes",
            "--url",
            postgres_db,
            "--backend-start",
            started.isoformat(),
        )

        assert wrong.returncode == exitcodes.REFUSED
        assert "nothing was sent" in " ".join(wrong.stderr.split())
        assert right.returncode == 0, right.stderr
        holder.close()

    def test_connections_and_lookup_as_json(self, mgops: Any, postgres_db: str) -> None:
        with psycopg.connect(postgres_db, autocommit=True) as conn:
            conn.execute("create table users (id text, email text)")
            conn.execute("insert into users values ('42', 'a@example.org')")

        conns = as_json(mgops("pg", "connections", "--url", postgres_db, "--json"))
        found = as_json(
            mgops(
                "pg",
                "lookup",
                "user",
                "--param",
                "id=42",
                "--url",
                postgres_db,
                "--json",
            )
        )

        assert conns["max_connections"] == 100
        assert found["rows"] == [{"id": "42", "email": "a@example.org"}]

    def test_promote_asks_for_the_typed_confirmation_then_promotes(
        self, mgops: Any, pg_primary: PostgresServer
    ) -> None:
        """Without --yes: refused, still a standby; with --yes: a writable primary."""
        standby = start_standby(pg_primary)
        try:
            refused = mgops(
                "pg", "promote", "--url", standby.url, "--primary-url", pg_primary.url
            )
            still = as_json(mgops("pg", "replication", "--url", standby.url, "--json"))
            done = as_json(
                mgops(
                    "pg",
                    "promote",
                    "--yes",
                    "--url",
                    standby.url,
                    "--primary-url",
                    pg_primary.url,
                    "--json",
                )
            )
        finally:
            standby.stop()

        assert refused.returncode == exitcodes.REFUSED
        assert f"promote 127.0.0.1:{standby.port}" in " ".join(refused.stderr.split())
        assert still["role"] == "standby"
        assert done["verified"]["write"] == "ok"

    def test_cloud_sql_promote_prints_the_checklist_onto_the_incident(
        self, mgops: Any, store: Store, make_incident: Callable[..., int]
    ) -> None:
        incident = make_incident()

        result = as_json(
            mgops(
                "pg",
                "promote",
                "--cloud-sql",
                "media-gateway-db-replica",
                "--incident",
                str(incident),
                "--json",
            )
        )

        [entry] = timeline(store, incident)
        assert entry.kind == "checklist"
        assert len(entry.data["steps"]) == len(result["steps"]) >= 5


@pytest.fixture
def fake_qdrant() -> Iterator[FakeQdrant]:
    contract: Contract = load_contract(
        shared_path("data", "contracts", "qdrant-openapi.json")
    )
    app = FakeQdrant(contract)
    server, _url = serve(app)
    yield app
    server.shutdown()
    server.server_close()
    assert app.violations == []


class TestQdrantCli:
    def test_optimize_and_restore(self, mgops: Any, fake_qdrant: FakeQdrant) -> None:
        """optimize PATCHes; restore needs --yes and sends a file:// location."""
        coll = fake_qdrant.add(
            "content_embeddings", status="grey", indexing_threshold=0
        )
        url = fake_qdrant.base_url

        optimized = as_json(
            mgops("qdrant", "optimize", "content_embeddings", "--url", url, "--json")
        )
        made = as_json(
            mgops(
                "qdrant",
                "snapshot",
                "create",
                "content_embeddings",
                "--url",
                url,
                "--json",
            )
        )
        refused = mgops(
            "qdrant",
            "snapshot",
            "restore",
            "content_embeddings",
            made["name"],
            "--url",
            url,
        )
        restored = as_json(
            mgops(
                "qdrant",
                "snapshot",
                "restore",
                "content_embeddings",
                made["name"],
                "--yes",
                "--url",
                url,
                "--json",
            )
        )

        assert optimized["after"]["indexing_threshold"] == 20000
        assert coll.indexing_threshold == 20000
        assert refused.returncode == exitcodes.REFUSED
        assert restored["location"].startswith("file:///qdrant/snapshots/")
        assert coll.recovered_from[0]["priority"] == "snapshot"


class TestEveryReadCommandAnswersJson:
    """Each read-only command runs end to end and prints JSON that parses."""

    @pytest.mark.parametrize(
        ("args", "check"),
        [
            (
                ["memory"],
                lambda r: all(n["used_memory"] > 0 for n in r["nodes"].values()),
            ),
            (["dbsize"], lambda r: r["total"] == 2),
            (
                ["bigkeys", "--top", "2"],
                lambda r: r["by_bytes"][0]["key"] == "content:1",
            ),
            (["hit-ratio", "--interval", "0.1"], lambda r: "hit_ratio" in r),
            (
                ["sessions", "ttl", "--user", "42"],
                lambda r: r == [{"key": "session:user:42:a", "ttl_seconds": None}],
            ),
            (["ratelimit", "reset", "--user", "42"], lambda r: r["deleted"] == []),
        ],
    )
    def test_redis(
        self,
        mgops: Any,
        redis_target: RedisTarget,
        args: list[str],
        check: Callable[[Any], bool],
    ) -> None:
        redis_target.client.mset({"session:user:42:a": 1, "content:1": "x" * 100})

        result = as_json(mgops("redis", *args, "--url", redis_target.url, "--json"))

        assert check(result), result

    @pytest.mark.parametrize(
        "args",
        [
            ["slow-queries", "--min-calls", "1", "--min-mean-ms", "0"],
            ["blocking"],
            ["connections"],
            ["long-running", "--by", "backend", "--min-seconds", "0"],
            ["replication"],
        ],
    )
    def test_pg(self, mgops: Any, postgres_db: str, args: list[str]) -> None:
        with psycopg.connect(postgres_db, autocommit=True) as conn:
            conn.execute("create extension if not exists pg_stat_statements")

        result = as_json(mgops("pg", *args, "--url", postgres_db, "--json"))

        assert result["target"].endswith(postgres_db.rsplit("/", 1)[1])

    def test_qdrant(self, mgops: Any, fake_qdrant: FakeQdrant, tmp_path: Path) -> None:
        fake_qdrant.add("c")
        url = fake_qdrant.base_url
        made = as_json(
            mgops("qdrant", "snapshot", "create", "c", "--url", url, "--json")
        )

        listed = as_json(mgops("qdrant", "collections", "--url", url, "--json"))
        info = as_json(mgops("qdrant", "info", "c", "--url", url, "--json"))
        status = as_json(mgops("qdrant", "cluster", "--url", url, "--json"))
        snaps = as_json(
            mgops("qdrant", "snapshot", "list", "c", "--url", url, "--json")
        )
        got = as_json(
            mgops(
                "qdrant",
                "snapshot",
                "download",
                "c",
                made["name"],
                "-o",
                str(tmp_path / "s"),
                "--url",
                url,
                "--json",
            )
        )

        assert [c["name"] for c in listed] == ["c"]
        assert info["status"] == "green"
        assert status["status"] == "disabled"
        assert [s["name"] for s in snaps] == [made["name"]]
        assert got["verified"] is True
