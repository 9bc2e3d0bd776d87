"""Fixtures shared by the whole suite: shared data, real servers, stores, clocks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from mgops.clock import ManualClock
from mgops.policy import Policy, default_policy
from mgops.store.db import Store
from tests.servers import PostgresServer, start_postgres

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ``../shared``: missing, it fails under CI=true, else skips."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is missing (../shared sits beside the repository in CI)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the shared server; its URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.dsn(name)
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in a temporary file."""
    st = Store(f"sqlite:///{tmp_path / 'mgops.db'}")
    yield st
    st.dispose()


@pytest.fixture
def pg_store(postgres_db: str) -> Iterator[Store]:
    """A migrated store on the real PostgreSQL."""
    st = Store("postgresql+psycopg://" + postgres_db.split("://", 1)[1])
    yield st
    st.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))


@pytest.fixture
def policy() -> Policy:
    return default_policy()
