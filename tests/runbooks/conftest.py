"""Real data stores for the runbook tests, one of each per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mgops.clock import ManualClock
from mgops.runbooks.postgres.client import PgTarget
from mgops.runbooks.postgres.client import connect as pg_connect
from mgops.runbooks.redis.client import RedisTarget, connect
from mgops.store.db import Store
from mgops.store.models import Incident
from tests.servers import (
    PostgresServer,
    RedisCluster,
    RedisServer,
    start_postgres,
    start_redis,
    start_redis_cluster,
    start_standby,
)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster_server() -> Iterator[RedisCluster]:
    cluster = start_redis_cluster(3)
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_target(redis_server: RedisServer) -> Iterator[RedisTarget]:
    """The standalone server, emptied before each test."""
    target = connect(redis_server.url)
    target.client.flushall()
    yield target
    target.close()


@pytest.fixture
def cluster_target(redis_cluster_server: RedisCluster) -> Iterator[RedisTarget]:
    """The three-primary cluster, emptied before each test."""
    target = connect(redis_cluster_server.url)
    for _host, client in target.primaries():
        client.flushall()
    yield target
    target.close()


@pytest.fixture
def make_incident(store: Store, clock: ManualClock) -> Callable[..., int]:
    """Open an incident row in the store; returns its id."""

    def make(title: str = "Database slow", severity: str = "P2") -> int:
        now = clock.now()
        with store.session() as session:
            row = Incident(
                title=title,
                severity=severity,
                phase="RESPOND",
                declared_by="tester",
                declared_at=now,
                started_at=now,
                phase_entered_at=now,
                updated_at=now,
                channel="inc-test",
            )
            session.add(row)
            session.flush()
            return int(row.id)

    return make


@pytest.fixture
def pg_target(postgres_db: str) -> Iterator[PgTarget]:
    """An mgops session on a fresh database with pg_stat_statements installed."""
    target = pg_connect(postgres_db)
    target.conn.execute("create extension if not exists pg_stat_statements")
    yield target
    target.close()


@pytest.fixture(scope="session")
def pg_primary() -> Iterator[PostgresServer]:
    """A primary of its own for replication tests (standbys attach to it)."""
    server = start_postgres(extra_conf={"wal_keep_size": "'64MB'"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_standby(pg_primary: PostgresServer) -> Iterator[PostgresServer]:
    """A streaming replica of ``pg_primary`` made with pg_basebackup."""
    server = start_standby(pg_primary)
    yield server
    server.stop()
