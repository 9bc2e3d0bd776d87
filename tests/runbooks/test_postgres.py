"""PostgreSQL runbook commands against a real PostgreSQL 15 with real sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from mgops.clock import SYSTEM_CLOCK
from mgops.errors import ActionRefused, InputError, NotFound, TargetError
from mgops.policy import Policy
from mgops.policy.schema import Lookup
from mgops.runbooks.postgres.activity import blocking, connections, long_running
from mgops.runbooks.postgres.client import PgTarget
from mgops.runbooks.postgres.client import connect as pg_connect
from mgops.runbooks.postgres.lookup import parse_params, run_lookup
from mgops.runbooks.postgres.signals import signal_backend
from mgops.runbooks.postgres.statements import TimingColumns, slow_queries
from mgops.store.db import Store
from tests.runbooks.helpers import actions


class Sessions:
    """Real client sessions that tests drive into lock waits; closed at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conns: list[psycopg.Connection[Any]] = []
        self.threads: list[threading.Thread] = []
        self.errors: dict[int, BaseException] = {}

    def open(self, name: str = "app") -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, application_name=name)
        self.conns.append(conn)
        return conn

    def in_background(self, conn: psycopg.Connection[Any], sql: str) -> None:
        """Run ``sql`` in a thread; it may wait on a lock for as long as it likes."""
        pid = conn.info.backend_pid

        def run() -> None:
            try:
                conn.execute(sql)
            except psycopg.Error as exc:
                self.errors[pid] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def close(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as admin:
            for conn in self.conns:
                admin.execute(
                    "select pg_terminate_backend(%s)", (conn.info.backend_pid,)
                )
        for thread in self.threads:
            thread.join(timeout=10)
        for conn in self.conns:
            conn.close()


@pytest.fixture
def sessions(postgres_db: str) -> Iterator[Sessions]:
    found = Sessions(postgres_db)
    yield found
    found.close()


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def waiting_on_locks(target: PgTarget) -> int:
    row = target.one(
        "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock'"
    )
    return int(row["n"])


def edges(tree: list[dict[str, Any]]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for node in tree:
        for child in node["blocks"]:
            found.add((node["pid"], child["pid"]))
        found |= edges(node["blocks"])
    return found


class TestSlowQueries:
    def test_r3_reads_the_exec_time_columns_on_15(self, pg_target: PgTarget) -> None:
        """R3: on PostgreSQL 15 the *_exec_time columns are used and queries found."""
        pg_target.rows("select pg_stat_statements_reset()")
        for _ in range(3):
            pg_target.rows("select pg_sleep(0.03)")

        result = slow_queries(target=pg_target, min_mean_ms=20, min_calls=3)

        assert result["columns"] == {
            "mean": "mean_exec_time",
            "total": "total_exec_time",
        }
        [row] = [q for q in result["queries"] if "pg_sleep" in q["query"]]
        assert row["calls"] == 3
        assert row["mean_ms"] >= 30
        assert 0 < row["pct_of_total"] <= 100

    def test_r3_reads_the_old_column_names_when_those_exist(
        self, pg_target: PgTarget
    ) -> None:
        """R3: a view with the pre-13 names (mean_time, total_time) works too."""
        pg_target.rows("create schema legacy")
        pg_target.rows(
            "create view legacy.pg_stat_statements as select userid, dbid, queryid, "
            "query, calls, rows, mean_exec_time as mean_time, "
            "total_exec_time as total_time from public.pg_stat_statements"
        )
        pg_target.rows("set search_path = legacy, public")
        pg_target.rows("select pg_stat_statements_reset()")
        for _ in range(2):
            pg_target.rows("select pg_sleep(0.025)")

        result = slow_queries(target=pg_target, min_mean_ms=20, min_calls=2)

        assert result["columns"] == {"mean": "mean_time", "total": "total_time"}
        assert any("pg_sleep" in q["query"] for q in result["queries"])

    def test_thresholds_and_sort(self, pg_target: PgTarget) -> None:
        """pgHero's defaults (20 ms over 100 calls) leave out a query run 3 times."""
        pg_target.rows("select pg_stat_statements_reset()")
        for _ in range(3):
            pg_target.rows("select pg_sleep(0.03)")

        default = slow_queries(target=pg_target)
        by_calls = slow_queries(
            target=pg_target, min_mean_ms=0, min_calls=1, sort="calls"
        )

        assert not any("pg_sleep" in q["query"] for q in default["queries"])
        calls = [q["calls"] for q in by_calls["queries"]]
        assert calls == sorted(calls, reverse=True)

    def test_unknown_names_are_refused(self) -> None:
        """A pg_stat_statements without either naming is an error, not a crash."""
        with pytest.raises(TargetError):
            TimingColumns.from_names({"query", "calls"})

    def test_missing_extension_says_how_to_install_it(self, postgres_db: str) -> None:
        """A database without the extension gets the CREATE EXTENSION hint."""
        target = pg_connect(postgres_db)

        with pytest.raises(TargetError, match="CREATE EXTENSION pg_stat_statements"):
            slow_queries(target=target)
        target.close()


class TestBlocking:
    def test_r4_tree_one_blocks_two_and_three_two_blocks_four(
        self, pg_target: PgTarget, sessions: Sessions
    ) -> None:
        """R4: the report shows 1 → {2, 3} and 2 → 4."""
        pg_target.rows("create table a (id int); create table b (id int)")
        s1, s2, s3, s4 = (sessions.open() for _ in range(4))
        s1.execute("lock table a in access exclusive mode")
        s2.execute("lock table b in row exclusive mode")
        sessions.in_background(s2, "select * from a")
        sessions.in_background(s3, "select * from a")
        sessions.in_background(s4, "lock table b in access exclusive mode")
        wait_until(lambda: waiting_on_locks(pg_target) == 3)
        p1, p2, p3, p4 = (s.info.backend_pid for s in (s1, s2, s3, s4))

        report = blocking(target=pg_target)

        tree = report.tree()
        assert [node["pid"] for node in tree] == [p1]
        assert edges(tree) == {(p1, p2), (p1, p3), (p2, p4)}
        assert report.backends[p1]["idle_in_transaction"] is True
        assert "AccessShareLock on a" in report.backends[p3]["waiting_for"]

    def test_a_waiter_with_two_blockers_lists_both(
        self, pg_target: PgTarget, sessions: Sessions
    ) -> None:
        """Two readers hold a table; the waiting ALTER is blocked by both."""
        pg_target.rows("create table c (id int)")
        r1, r2, writer = sessions.open(), sessions.open(), sessions.open()
        r1.execute("select * from c")
        r2.execute("select * from c")
        sessions.in_background(writer, "alter table c add column x int")
        wait_until(lambda: waiting_on_locks(pg_target) == 1)

        report = blocking(target=pg_target)

        pids = sorted([r1.info.backend_pid, r2.info.backend_pid])
        assert report.blocked_by[writer.info.backend_pid] == pids
        assert report.roots == pids

    def test_no_waits_no_tree(self, pg_target: PgTarget) -> None:
        """Nothing waits: an empty report."""
        assert blocking(target=pg_target).tree() == []


class TestActivity:
    def test_connections_by_state_and_share(
        self, pg_target: PgTarget, sessions: Sessions
    ) -> None:
        """Idle and idle-in-transaction sessions are counted against max_connections."""
        idle = sessions.open()
        idle.commit()
        in_tx = sessions.open()
        in_tx.execute("select 1")

        result = connections(target=pg_target)

        states = {r["state"]: r["count"] for r in result["by_state"]}
        assert states["idle in transaction"] >= 1
        assert states["active"] >= 1  # this very query
        assert result["max_connections"] == 100
        assert result["used_pct"] == round(100 * result["total"] / 100, 1)

    def test_long_running_calls_out_idle_in_transaction(
        self, pg_target: PgTarget, sessions: Sessions
    ) -> None:
        """By transaction age, an idle-in-transaction session is listed and flagged."""
        holder = sessions.open()
        holder.execute("select 1")
        runner = sessions.open()
        sessions.in_background(runner, "select pg_sleep(30)")
        wait_until(lambda: _state(pg_target, runner.info.backend_pid) == "active")
        time.sleep(0.6)

        by_tx = long_running(target=pg_target, by="transaction", min_seconds=0.5)
        by_query = long_running(target=pg_target, by="query", min_seconds=0.5)

        flagged = {b["pid"]: b["idle_in_transaction"] for b in by_tx["backends"]}
        assert flagged[holder.info.backend_pid] is True
        assert flagged[runner.info.backend_pid] is False
        assert runner.info.backend_pid in {b["pid"] for b in by_query["backends"]}

    def test_unknown_age_is_an_input_error(self, pg_target: PgTarget) -> None:
        with pytest.raises(InputError):
            long_running(target=pg_target, by="lunar")  # type: ignore[arg-type]


class TestSignals:
    def test_cancel_stops_a_running_query(
        self, pg_target: PgTarget, sessions: Sessions, store: Store
    ) -> None:
        """The query is cancelled, the session survives, the action is audited."""
        runner = sessions.open()
        sessions.in_background(runner, "select pg_sleep(30)")
        pid = runner.info.backend_pid
        wait_until(lambda: _state(pg_target, pid) == "active")

        result = signal_backend(
            target=pg_target, store=store, clock=SYSTEM_CLOCK, pid=pid, signal="cancel"
        )

        assert result["done"] is True
        wait_until(lambda: pid in sessions.errors)
        assert isinstance(sessions.errors[pid], psycopg.errors.QueryCanceled)
        assert _state(pg_target, pid) is not None
        assert actions(store)[-1].outcome == "succeeded"

    def test_cancel_refuses_an_idle_in_transaction_holder_and_says_terminate(
        self, pg_target: PgTarget, sessions: Sessions, store: Store
    ) -> None:
        """Cancel cannot free an idle-in-transaction lock: said so, nothing sent."""
        holder = sessions.open()
        holder.execute("select 1")
        pid = holder.info.backend_pid

        with pytest.raises(ActionRefused, match="terminate"):
            signal_backend(
                target=pg_target,
                store=store,
                clock=SYSTEM_CLOCK,
                pid=pid,
                signal="cancel",
            )

        assert _state(pg_target, pid) == "idle in transaction"
        assert actions(store)[-1].outcome == "refused"

    def test_terminate_ends_the_holder_and_frees_the_waiter(
        self, pg_target: PgTarget, sessions: Sessions, store: Store
    ) -> None:
        """Terminate waits until the backend is gone; the blocked session proceeds."""
        pg_target.rows("create table t (id int)")
        holder, waiter = sessions.open(), sessions.open()
        holder.execute("lock table t")
        sessions.in_background(waiter, "select count(*) from t")
        wait_until(lambda: waiting_on_locks(pg_target) == 1)
        pid = holder.info.backend_pid

        signal_backend(
            target=pg_target,
            store=store,
            clock=SYSTEM_CLOCK,
            pid=pid,
            signal="terminate",
        )

        assert _state(pg_target, pid) is None
        wait_until(lambda: waiting_on_locks(pg_target) == 0)

    def test_a_reused_pid_is_not_signalled(
        self, pg_target: PgTarget, sessions: Sessions, store: Store
    ) -> None:
        """When backend_start differs from what the operator saw, nothing is sent."""
        victim = sessions.open()
        pid = victim.info.backend_pid
        seen = pg_target.one(
            "select backend_start - interval '1 hour' as s "
            "from pg_stat_activity where pid = %s",
            (pid,),
        )["s"]

        with pytest.raises(ActionRefused, match="now belongs"):
            signal_backend(
                target=pg_target,
                store=store,
                clock=SYSTEM_CLOCK,
                pid=pid,
                signal="terminate",
                expected_start=seen,
            )

        assert _state(pg_target, pid) is not None

    def test_own_backend_and_other_mgops_sessions_are_refused(
        self, pg_target: PgTarget, sessions: Sessions, store: Store
    ) -> None:
        """mgops never signals itself; another mgops session needs --force."""
        other = sessions.open(name="mgops")

        with pytest.raises(ActionRefused, match="own connection"):
            signal_backend(
                target=pg_target,
                store=store,
                clock=SYSTEM_CLOCK,
                pid=pg_target.backend_pid,
                signal="terminate",
                force=True,
            )
        with pytest.raises(ActionRefused, match="another mgops session"):
            signal_backend(
                target=pg_target,
                store=store,
                clock=SYSTEM_CLOCK,
                pid=other.info.backend_pid,
                signal="terminate",
            )
        signal_backend(
            target=pg_target,
            store=store,
            clock=SYSTEM_CLOCK,
            pid=other.info.backend_pid,
            signal="terminate",
            force=True,
        )

        assert _state(pg_target, other.info.backend_pid) is None

    def test_unknown_pid_is_not_found(self, pg_target: PgTarget, store: Store) -> None:
        with pytest.raises(NotFound):
            signal_backend(
                target=pg_target,
                store=store,
                clock=SYSTEM_CLOCK,
                pid=1,
                signal="cancel",
            )


def _state(target: PgTarget, pid: int) -> str | None:
    rows = target.rows("select state from pg_stat_activity where pid = %s", (pid,))
    return rows[0]["state"] if rows else None


class TestLookup:
    @pytest.fixture
    def users(self, pg_target: PgTarget) -> PgTarget:
        pg_target.rows(
            "create table users (id text primary key, email text);"
            "create table user_sessions (id text, user_id text);"
            "insert into users values ('42', 'a@example.org'),"
            " ('420', 'b@example.org');"
            "insert into user_sessions values ('s1', '42'), ('s2', '42'), ('s3', '420')"
        )
        return pg_target

    def test_runbook_lookups_ship_as_defaults(
        self, users: PgTarget, store: Store, policy: Policy
    ) -> None:
        """user and user-sessions bind the id; the read is audited."""
        user = run_lookup(
            target=users, store=store, policy=policy, name="user", params={"id": "42"}
        )
        mine = run_lookup(
            target=users,
            store=store,
            policy=policy,
            name="user-sessions",
            params={"user_id": "42"},
        )

        assert user["rows"] == [{"id": "42", "email": "a@example.org"}]
        assert sorted(r["id"] for r in mine["rows"]) == ["s1", "s2"]
        assert [a.kind for a in actions(store)] == ["pg.lookup.read"] * 2

    def test_an_injected_quote_is_just_data(
        self, users: PgTarget, store: Store, policy: Policy
    ) -> None:
        """The id is bound, so the runbook's quoting hole is not there."""
        result = run_lookup(
            target=users,
            store=store,
            policy=policy,
            name="user",
            params={"id": "42' or '1'='1"},
        )

        assert result["rows"] == []

    def test_a_writing_lookup_fails_in_the_read_only_transaction(
        self, users: PgTarget, store: Store, policy: Policy
    ) -> None:
        """Even a lookup that deletes cannot: the transaction is READ ONLY."""
        bad = Lookup(
            description="oops", sql="DELETE FROM users WHERE id = %(id)s", params=["id"]
        )
        edited = policy.model_copy(update={"lookups": {"oops": bad}})

        with pytest.raises(TargetError, match="read-only"):
            run_lookup(
                target=users,
                store=store,
                policy=edited,
                name="oops",
                params={"id": "42"},
            )

        assert users.one("select count(*)::int as n from users")["n"] == 2

    def test_parameters_must_match_the_definition(
        self, users: PgTarget, store: Store, policy: Policy
    ) -> None:
        with pytest.raises(InputError, match="missing id"):
            run_lookup(target=users, store=store, policy=policy, name="user", params={})
        with pytest.raises(NotFound):
            run_lookup(target=users, store=store, policy=policy, name="nope", params={})

    def test_policy_rejects_undeclared_placeholders(self) -> None:
        with pytest.raises(ValidationError, match="undeclared"):
            Lookup(description="x", sql="select %(a)s, %(b)s", params=["a"])

    def test_parse_params(self) -> None:
        assert parse_params(["id=42", "q=a=b"]) == {"id": "42", "q": "a=b"}
        with pytest.raises(InputError):
            parse_params(["novalue"])
