"""Engine, sessions and schema upgrades for the store.

The store is a SQLite file under the XDG data directory unless a URL says
otherwise (``--db``, then ``MGOPS_DATABASE_URL``). PostgreSQL URLs use psycopg 3.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mgops.errors import StoreError


def data_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mgops"


def resolve_database_url(db: str | None = None) -> str:
    """``--db`` (URL or file path), then ``MGOPS_DATABASE_URL``, then the default."""
    value = db or os.environ.get("MGOPS_DATABASE_URL")
    if not value:
        path = data_home() / "mgops.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if "://" not in value:
        path = Path(value).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if value.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


class FairLock:
    """A reentrant lock granted in the order it was asked for.

    SQLite's busy handler polls with growing sleeps, so a thread that commits
    and at once begins again (the intake's writer under load) can keep the
    write lock for seconds while another thread of the same process (the
    worker) keeps waking to find it taken. Threads of one process queue here
    first, in arrival order; other processes still meet SQLite's busy timeout.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            ticket = self._next_ticket
            self._next_ticket += 1
            while self._serving != ticket:
                self._cond.wait()
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._cond:
            if self._owner is None:
                return  # a rollback with nothing begun: nothing is held
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._cond.notify_all()


_HOLDS_LOCK = "mgops_fair_lock"
# Each SQLite engine's in-process write lock (for tests and diagnostics).
WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, FairLock] = weakref.WeakKeyDictionary()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite's own BEGIN is deferred; take the write lock up front so two
        # writers queue instead of failing half-way (busy_timeout covers the wait),
        # behind a fair in-process lock so one busy thread cannot starve the rest.
        lock = WRITE_LOCKS[engine] = FairLock()

        def begin(conn: Connection) -> None:
            lock.acquire()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                lock.release()
                raise
            conn.info[_HOLDS_LOCK] = True

        def end(info: dict[Any, Any]) -> None:
            # Once per transaction: a COMMIT that fails after the commit event is
            # followed by a rollback event, which must not release a second time.
            if info.pop(_HOLDS_LOCK, False):
                lock.release()

        event.listen(engine, "begin", begin)
        event.listen(engine, "commit", lambda conn: end(conn.info))
        event.listen(engine, "rollback", lambda conn: end(conn.info))
        # A connection given back without its transaction ended (a leaked
        # session) must not hold the lock for ever.
        event.listen(engine.pool, "checkin", lambda _dbapi, record: end(record.info))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by the listener
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    location = resources.files("mgops.store").joinpath("migrations")
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(False))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is there already."""
    try:
        if revision == "head" and current_revision(engine) == head_revision(engine):
            return
        command.upgrade(alembic_config(engine), revision)
    except (OperationalError, DatabaseError) as exc:
        raise StoreError(
            f"The store at {engine.url.render_as_string(True)} cannot be reached "
            f"or upgraded: {exc.orig}."
        ) from None


class Store:
    """An engine plus a session factory; the one handle faces pass to the core."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StoreError(f"The store refused the change: {exc}.") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def new_session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(db: str | None = None, *, migrate: bool = True) -> Store:
    return Store(resolve_database_url(db), migrate=migrate)
