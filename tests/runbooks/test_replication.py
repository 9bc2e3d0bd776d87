"""Replication lag and promotion on a real primary with a pg_basebackup standby."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mgops.clock import SYSTEM_CLOCK, ManualClock
from mgops.errors import ActionRefused
from mgops.runbooks.postgres.client import PgTarget
from mgops.runbooks.postgres.client import connect as pg_connect
from mgops.runbooks.postgres.replication import (
    attach_checklist,
    check_promotion,
    cloud_sql_checklist,
    promote,
    replication_status,
)
from mgops.runbooks.postgres.signals import signal_backend
from mgops.store.db import Store
from tests.runbooks.helpers import actions, timeline
from tests.servers import PostgresServer, start_standby


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


@pytest.fixture
def primary(pg_primary: PostgresServer) -> Iterator[PgTarget]:
    target = pg_connect(pg_primary.url)
    yield target
    target.close()


@pytest.fixture
def standby(pg_standby: PostgresServer) -> Iterator[PgTarget]:
    target = pg_connect(pg_standby.url)
    yield target
    target.rows("select pg_wal_replay_resume()")
    target.close()


def standby_row(primary: PgTarget) -> dict[str, Any]:
    [row] = replication_status(target=primary)["standbys"]
    return row


def caught_up(primary: PgTarget) -> bool:
    rows = replication_status(target=primary)["standbys"]
    return len(rows) == 1 and rows[0]["replay_lag_bytes"] == 0


class TestReplicationStatus:
    def test_primary_lists_the_standby_and_standby_shows_positions(
        self, primary: PgTarget, standby: PgTarget
    ) -> None:
        """The primary sees one streaming standby; the standby reports its LSNs."""
        wait_until(lambda: caught_up(primary))

        on_primary = replication_status(target=primary)
        on_standby = replication_status(target=standby)

        assert on_primary["role"] == "primary"
        assert standby_row(primary)["state"] == "streaming"
        assert on_standby["role"] == "standby"
        assert on_standby["receive_lsn"] is not None
        assert on_standby["wal_receiver"]["status"] == "streaming"

    def test_real_lag_shows_in_bytes_and_blocks_promotion(
        self, primary: PgTarget, standby: PgTarget
    ) -> None:
        """With replay paused and writes on the primary, lag is real and refused."""
        wait_until(lambda: caught_up(primary))
        standby.rows("select pg_wal_replay_pause()")
        primary.rows("create table if not exists lagged (x text)")
        primary.rows(
            "insert into lagged select repeat('x', 1000) from generate_series(1, 2000)"
        )
        # Received (and flushed) on the standby, but not replayed.
        wait_until(
            lambda: (
                replication_status(target=standby)["replay_backlog_bytes"] > 1_000_000
            )
        )

        lag = standby_row(primary)
        positions = replication_status(target=standby)
        check = check_promotion(standby=standby, primary=primary)

        assert lag["replay_lag_bytes"] > 1_000_000
        assert positions["replay_paused"] is True
        assert positions["replay_backlog_bytes"] > 1_000_000
        assert (check.lag_bytes or 0) > 1_000_000
        assert any("paused" in p for p in check.problems)

        standby.rows("select pg_wal_replay_resume()")
        wait_until(lambda: caught_up(primary))

    def test_a_lagging_standby_is_not_promoted_without_force(
        self, primary: PgTarget, standby: PgTarget, store: Store
    ) -> None:
        """promote refuses on lag, audits the refusal, and the standby stays one."""
        primary.rows("create table if not exists lagged (x text)")
        standby.rows("select pg_wal_replay_pause()")
        primary.rows("insert into lagged values ('more')")
        wait_until(lambda: standby_row(primary)["send_lag_bytes"] == 0)
        check = check_promotion(standby=standby, primary=primary)

        with pytest.raises(ActionRefused, match="Not promoting"):
            promote(standby=standby, store=store, clock=SYSTEM_CLOCK, check=check)

        assert replication_status(target=standby)["role"] == "standby"
        assert actions(store)[-1].outcome == "refused"

    def test_wal_sender_is_not_terminated_without_force(
        self, primary: PgTarget, standby: PgTarget, store: Store
    ) -> None:
        """Ending a WAL sender cuts a standby off: refused unless forced."""
        [sender] = primary.rows(
            "select pid from pg_stat_activity where backend_type = 'walsender'"
        )

        with pytest.raises(ActionRefused, match="WAL sender"):
            signal_backend(
                target=primary,
                store=store,
                clock=SYSTEM_CLOCK,
                pid=sender["pid"],
                signal="terminate",
            )


class TestPromotion:
    @pytest.fixture
    def fresh_standby(self, pg_primary: PostgresServer) -> Iterator[PgTarget]:
        """A standby of its own: promoting it ends its life as a standby."""
        server = start_standby(pg_primary)
        target = pg_connect(server.url)
        yield target
        target.close()
        server.stop()

    def test_promote_after_the_lag_check_and_verify_writes(
        self,
        primary: PgTarget,
        fresh_standby: PgTarget,
        store: Store,
        make_incident: Callable[..., int],
    ) -> None:
        """A caught-up standby is promoted, takes writes, and the incident says so."""
        incident = make_incident("Primary down")
        primary.rows("create table if not exists before_failover (x int)")
        primary.rows("insert into before_failover values (1)")
        wait_until(
            lambda: (
                check_promotion(standby=fresh_standby, primary=primary).lag_bytes == 0
            )
        )
        check = check_promotion(standby=fresh_standby, primary=primary)

        result = promote(
            standby=fresh_standby,
            store=store,
            clock=SYSTEM_CLOCK,
            check=check,
            incident_id=incident,
        )

        assert result["verified"]["write"] == "ok"
        assert replication_status(target=fresh_standby)["role"] == "primary"
        fresh_standby.rows("insert into before_failover values (2)")
        rows = fresh_standby.rows("select x from before_failover order by x")
        assert [r["x"] for r in rows] == [1, 2]
        assert actions(store)[-1].outcome == "succeeded"
        assert len(timeline(store, incident)) == 2

    def test_a_primary_cannot_be_promoted(self, primary: PgTarget) -> None:
        with pytest.raises(ActionRefused, match="not a standby"):
            check_promotion(standby=primary)


class TestCloudSqlChecklist:
    def test_checklist_names_the_replica_and_lands_on_the_incident(
        self, store: Store, clock: ManualClock, make_incident: Callable[..., int]
    ) -> None:
        """The runbook's steps, with the replica's name, as one timeline entry."""
        incident = make_incident()
        steps = cloud_sql_checklist(replica="media-gateway-db-replica", project="mg")

        attach_checklist(
            store=store,
            clock=clock,
            incident_id=incident,
            title="failover",
            steps=steps,
        )

        [entry] = timeline(store, incident)
        assert entry.kind == "checklist"
        assert [s["text"] for s in entry.data["steps"]] == steps
        assert any("promote-replica media-gateway-db-replica" in s for s in steps)
        assert any("Stop writes" in s for s in steps)
        assert any("secrets" in s for s in steps)
