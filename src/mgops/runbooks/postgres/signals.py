"""Cancelling a query or terminating a backend, aimed at exactly one session.

A pid is reused as soon as its backend exits, so the pid alone does not name a
session: mgops reads the backend's ``backend_start`` when it shows it to the
operator and signals only if the pid still has that start time (checked in the
same statement that sends the signal). It refuses its own connection, other
mgops sessions, WAL senders and server processes unless forced, and waits
until the signal took effect.

``pg_cancel_backend`` stops the *running query*. A session idle in a
transaction runs nothing, so cancelling it does nothing and its locks stay; the
runbook's "cancel first" does not help there and mgops says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from mgops.audit import audited
from mgops.clock import Clock
from mgops.errors import ActionRefused, ActionTimeout, NotFound
from mgops.runbooks.postgres.activity import IDLE_IN_TRANSACTION
from mgops.runbooks.postgres.client import APPLICATION_NAME, PgTarget
from mgops.store.db import Store

Signal = Literal["cancel", "terminate"]
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Backend:
    pid: int
    backend_start: datetime
    backend_type: str
    state: str | None
    role: str | None
    application_name: str
    query_start: datetime | None
    query: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def find_backend(target: PgTarget, pid: int) -> Backend:
    rows = target.rows(
        "select pid, backend_start, backend_type, state, usename as role, "
        "application_name, query_start, left(query, 300) as query "
        "from pg_stat_activity where pid = %s",
        (pid,),
    )
    if not rows:
        raise NotFound(f"No backend with pid {pid} on {target.where}.")
    row = rows[0]
    return Backend(
        pid=int(row["pid"]),
        backend_start=row["backend_start"],
        backend_type=row["backend_type"],
        state=row["state"],
        role=row["role"],
        application_name=row["application_name"] or "",
        query_start=row["query_start"],
        query=row["query"] or "",
    )


def refusal(target: PgTarget, backend: Backend, *, force: bool) -> str | None:
    """Why mgops will not signal this backend, or None when it may."""
    if backend.pid == target.backend_pid:
        return f"pid {backend.pid} is this mgops session's own connection."
    if force:
        return None
    if backend.backend_type == "walsender":
        return (
            f"pid {backend.pid} is a WAL sender: ending it cuts off a standby or a "
            "replication client. Pass --force if that is what you want."
        )
    if backend.backend_type != "client backend":
        return (
            f"pid {backend.pid} is a server process ({backend.backend_type}), not a "
            "client session. Pass --force if that is what you want."
        )
    if backend.application_name.startswith(APPLICATION_NAME):
        return (
            f"pid {backend.pid} is another mgops session "
            f"({backend.application_name}). Pass --force to signal it anyway."
        )
    return None


def cancel_cannot_help(backend: Backend) -> str | None:
    """The reason a cancel would change nothing for this backend, if there is one."""
    if backend.state in IDLE_IN_TRANSACTION:
        return (
            f"pid {backend.pid} is {backend.state}: it runs no query, so "
            "pg_cancel_backend does nothing and the locks it holds stay held. "
            f"Terminate it instead (mgops pg terminate {backend.pid})."
        )
    if backend.state == "idle":
        return f"pid {backend.pid} is idle: there is no query to cancel."
    return None


def signal_backend(
    *,
    target: PgTarget,
    store: Store,
    clock: Clock,
    pid: int,
    signal: Signal,
    expected_start: datetime | None = None,
    force: bool = False,
    incident_id: int | None = None,
    wait_seconds: float = 10.0,
) -> dict[str, Any]:
    """Signal ``pid`` if it is still the same backend, then wait for the effect."""
    backend = find_backend(target, pid)
    params = {"pid": pid, "signal": signal, "force": force}
    with audited(
        store,
        kind=f"pg.{signal}",
        target=target.where,
        params={**params, "backend_start": backend.backend_start.isoformat()},
        incident_id=incident_id,
        clock=clock,
    ) as action:
        reason = refusal(target, backend, force=force)
        if signal == "cancel" and reason is None:
            reason = cancel_cannot_help(backend)
        if reason:
            raise ActionRefused(reason)
        if expected_start is not None and expected_start != backend.backend_start:
            raise ActionRefused(_reused(pid, expected_start, backend.backend_start))
        function = "pg_cancel_backend" if signal == "cancel" else "pg_terminate_backend"
        sent = target.one(
            f"select (select {function}(pid) from pg_stat_activity "
            "where pid = %s and backend_start = %s) as sent",
            (pid, backend.backend_start),
        )["sent"]
        if sent is None:
            raise ActionRefused(
                f"pid {pid} ended or was reused before the signal; nothing was sent."
            )
        if not sent:
            raise ActionRefused(f"PostgreSQL did not signal pid {pid}.")
        _wait_for_effect(target, clock, backend, signal, wait_seconds)
        action.result.update(signalled=True, backend=backend.as_dict())
        return {
            "pid": pid,
            "signal": signal,
            "backend": backend.as_dict(),
            "done": True,
        }


def _reused(pid: int, expected: datetime, found: datetime) -> str:
    return (
        f"pid {pid} now belongs to a backend started at {found.isoformat()}, not "
        f"the one started at {expected.isoformat()}; nothing was sent."
    )


def _wait_for_effect(
    target: PgTarget, clock: Clock, backend: Backend, signal: Signal, wait: float
) -> None:
    """Terminate: until the backend is gone. Cancel: until its query has ended."""
    deadline = clock.now() + timedelta(seconds=wait)
    while True:
        rows = target.rows(
            "select state, query_start from pg_stat_activity "
            "where pid = %s and backend_start = %s",
            (backend.pid, backend.backend_start),
        )
        if not rows:
            return
        if signal == "cancel" and (
            rows[0]["state"] != "active"
            or rows[0]["query_start"] != backend.query_start
        ):
            return
        if clock.now() >= deadline:
            what = "exit" if signal == "terminate" else "stop its query"
            raise ActionTimeout(
                f"pid {backend.pid} did not {what} within {wait:g}s of the signal."
            )
        clock.sleep(POLL_SECONDS)
