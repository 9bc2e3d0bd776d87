"""One psycopg 3 connection with timeouts that keep a diagnostic from hanging.

A diagnostic that waits behind the lock it is diagnosing is worse than none, so
every session mgops opens sets ``lock_timeout`` (1 s) and ``statement_timeout``
(10 s), a connect timeout, and ``application_name = mgops`` so that operators
(and mgops itself, before it signals a backend) can recognise it. Errors from
psycopg are translated here into mgops errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from mgops.errors import (
    ActionTimeout,
    Forbidden,
    InputError,
    TargetError,
    TargetUnreachable,
    Unauthorized,
)
from mgops.runbooks.urls import host_port, redact_url

APPLICATION_NAME = "mgops"
CONNECT_TIMEOUT = 5
STATEMENT_TIMEOUT_MS = 10_000
LOCK_TIMEOUT_MS = 1_000


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn psycopg exceptions into mgops errors that name the server."""
    try:
        yield
    except pg_errors.QueryCanceled as exc:
        raise ActionTimeout(
            f"PostgreSQL at {where} cancelled the statement ({_first_line(exc)}): "
            "it hit mgops's statement or lock timeout."
        ) from None
    except pg_errors.LockNotAvailable as exc:
        raise ActionTimeout(
            f"PostgreSQL at {where} could not take a lock in time: {_first_line(exc)}."
        ) from None
    except pg_errors.InvalidPassword:
        raise Unauthorized(f"PostgreSQL at {where} refused the password.") from None
    except pg_errors.InsufficientPrivilege as exc:
        raise Forbidden(
            f"PostgreSQL at {where} says the role may not do that: {_first_line(exc)}."
        ) from None
    except psycopg.OperationalError as exc:
        raise TargetUnreachable(
            f"PostgreSQL at {where} did not answer: {_first_line(exc)}."
        ) from None
    except psycopg.Error as exc:
        raise TargetError(f"PostgreSQL at {where} said: {_first_line(exc)}.") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class PgTarget:
    """An open autocommit connection to one PostgreSQL server."""

    url: str
    conn: psycopg.Connection[dict[str, Any]]

    @property
    def where(self) -> str:
        return redact_url(self.url)

    @property
    def host(self) -> str:
        return host_port(self.url, 5432)

    @property
    def version_num(self) -> int:
        return int(self.conn.info.server_version)

    @property
    def backend_pid(self) -> int:
        return int(self.conn.info.backend_pid)

    def rows(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        """Run one statement; its rows, or [] for a statement that returns none."""
        with translated(self.where):
            cursor = self.conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def one(self, sql: str, params: Any = None) -> dict[str, Any]:
        found = self.rows(sql, params)
        if not found:  # pragma: no cover - callers ask for one-row queries
            raise TargetError(f"PostgreSQL at {self.where} returned no row.")
        return found[0]

    def close(self) -> None:
        self.conn.close()


def connect(
    url: str,
    *,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    lock_timeout_ms: int = LOCK_TIMEOUT_MS,
) -> PgTarget:
    """Open an autocommit session with mgops's timeouts; nothing is changed."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise InputError(f"{url!r} is not a PostgreSQL URL (postgresql://host/db).")
    options = (
        f"-c statement_timeout={statement_timeout_ms} "
        f"-c lock_timeout={lock_timeout_ms} "
        "-c idle_in_transaction_session_timeout=60000"
    )
    with translated(redact_url(url)):
        conn = psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            application_name=APPLICATION_NAME,
            options=options,
            row_factory=dict_row,
        )
    return PgTarget(url=url, conn=conn)
