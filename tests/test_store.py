"""The schema migrates on SQLite and on a real PostgreSQL, and round-trips instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import inspect

from mgops.store.db import Store, current_revision, head_revision, resolve_database_url
from mgops.store.models import Action


class TestMigrations:
    def test_sqlite_reaches_head(self, store: Store) -> None:
        """A new SQLite store is migrated to the newest revision."""
        tables = set(inspect(store.engine).get_table_names())

        assert current_revision(store.engine) == head_revision(store.engine)
        assert {"incidents", "alerts", "alert_groups", "actions"} <= tables

    def test_postgres_reaches_head(self, pg_store: Store) -> None:
        """The same migrations run on PostgreSQL 15."""
        tables = set(inspect(pg_store.engine).get_table_names())

        assert current_revision(pg_store.engine) == head_revision(pg_store.engine)
        assert {"incidents", "timeline_entries", "api_tokens"} <= tables

    def test_upgrade_twice_is_a_no_op(self, store: Store) -> None:
        """Opening a migrated store again changes nothing."""
        again = Store(store.url)

        assert current_revision(again.engine) == head_revision(again.engine)
        again.dispose()


class TestInstants:
    def test_offsets_come_back_as_utc(self, store: Store, pg_store: Store) -> None:
        """An instant written with an offset is read back as the same UTC instant."""
        when = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
        for st in (store, pg_store):
            with st.session() as session:
                session.add(Action(kind="k", target="t", actor="a", started_at=when))
            with st.session() as session:
                row = session.query(Action).one()

            assert when == row.started_at
            assert row.started_at.tzinfo == UTC


class TestUrls:
    def test_a_path_becomes_a_sqlite_url(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """``--db FILE`` is a SQLite file; postgres:// URLs use psycopg 3."""
        assert resolve_database_url(str(tmp_path / "x.db")).startswith("sqlite:///")
        assert resolve_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"


class TestFairLock:
    def test_waiters_are_served_in_arrival_order(self) -> None:
        """A thread that releases and asks again queues behind those waiting."""
        import threading
        import time

        from mgops.store.db import FairLock

        lock, order = FairLock(), []
        lock.acquire()

        def waiter(name: str) -> None:
            lock.acquire()
            order.append(name)
            lock.release()

        threads = []
        for name in ("first", "second"):
            thread = threading.Thread(target=waiter, args=(name,))
            thread.start()
            threads.append(thread)
            time.sleep(0.05)  # let it take its ticket before the next one asks
        lock.release()
        lock.acquire()  # the releasing thread asks again at once
        order.append("holder again")
        lock.release()
        for thread in threads:
            thread.join(5)

        assert ["first", "second", "holder again"] == order

    def test_reentrant_and_a_stray_release_is_harmless(self) -> None:
        from mgops.store.db import FairLock

        lock = FairLock()
        lock.release()  # nothing held: ignored
        lock.acquire()
        lock.acquire()
        lock.release()
        lock.release()
        lock.acquire()  # would wait forever if the counts had gone wrong
        lock.release()

        assert lock._owner is None

    def test_a_failed_commit_releases_the_write_lock_once(self, tmp_path: Path) -> None:
        """COMMIT failing after the commit event: the rollback that follows must
        not release the lock again (it may belong to another thread by then)."""
        import pytest
        from sqlalchemy import event, text

        from mgops.store.db import WRITE_LOCKS, Store

        store = Store(f"sqlite:///{tmp_path / 'lock.db'}")
        lock = WRITE_LOCKS[store.engine]
        before = lock._next_ticket

        def refuse(_conn: object) -> None:
            raise RuntimeError("disk full")

        event.listen(store.engine, "commit", refuse)
        with pytest.raises(RuntimeError), store.session() as session:
            session.execute(text("select 1"))
        event.remove(store.engine, "commit", refuse)
        with store.session() as session:  # would wait for ever if counts drifted
            session.execute(text("select 1"))
        store.dispose()

        assert (lock._next_ticket - before, lock._serving, lock._owner) == (
            2,
            lock._next_ticket,
            None,
        )

    def test_a_connection_given_back_mid_transaction_releases_it(
        self, tmp_path: Path
    ) -> None:
        from sqlalchemy import text

        from mgops.store.db import WRITE_LOCKS, Store

        store = Store(f"sqlite:///{tmp_path / 'lock.db'}")
        lock = WRITE_LOCKS[store.engine]
        conn = store.engine.connect()
        conn.execute(text("select 1"))  # begins: the lock is taken
        held = lock._owner is not None
        conn.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
        conn.invalidate()  # the pool takes it back without a rollback event
        with store.session() as session:
            session.execute(text("select 1"))
        store.dispose()

        assert held and lock._owner is None
