"""What the server's backends are doing: connections, long runners, lock waits.

The runbook's blocking query joins ``pg_locks`` to itself on the lock type
only: it pairs waiters with unrelated holders, misses waiters blocked by more
than one session, and misses "soft" blocks (a session queued ahead for a
conflicting lock). ``pg_blocking_pids()`` is the server's own answer to "who is
in my way" and covers all of those; the report turns its answer into a tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mgops.errors import InputError
from mgops.runbooks.postgres.client import PgTarget

AgeBy = Literal["query", "transaction", "backend"]
IDLE_IN_TRANSACTION = ("idle in transaction", "idle in transaction (aborted)")
QUERY_PREVIEW = 300

_BACKEND_COLUMNS = f"""
    a.pid, a.usename as role, a.datname as database, a.application_name,
    host(a.client_addr) as client_addr, a.state, a.backend_type,
    a.backend_start, a.xact_start, a.query_start, a.state_change,
    a.wait_event_type, a.wait_event,
    extract(epoch from now() - a.query_start)::float as query_age_s,
    extract(epoch from now() - a.xact_start)::float as xact_age_s,
    extract(epoch from now() - a.backend_start)::float as backend_age_s,
    extract(epoch from now() - a.state_change)::float as state_age_s,
    left(a.query, {QUERY_PREVIEW}) as query
"""


def connections(*, target: PgTarget) -> dict[str, Any]:
    """Client connections by state, and their share of ``max_connections``."""
    settings = target.one(
        "select current_setting('max_connections')::int as max_connections, "
        "current_setting('superuser_reserved_connections')::int as reserved"
    )
    by_state = target.rows(
        "select coalesce(state, 'unknown') as state, count(*)::int as count "
        "from pg_stat_activity where backend_type = 'client backend' "
        "group by 1 order by 2 desc"
    )
    by_user = target.rows(
        "select usename as role, datname as database, application_name, "
        "count(*)::int as count from pg_stat_activity "
        "where backend_type = 'client backend' group by 1, 2, 3 "
        "order by 4 desc limit 10"
    )
    total = sum(int(r["count"]) for r in by_state)
    usable = settings["max_connections"] - settings["reserved"]
    return {
        "target": target.where,
        "max_connections": settings["max_connections"],
        "superuser_reserved": settings["reserved"],
        "total": total,
        "used_pct": round(100 * total / settings["max_connections"], 1),
        "free_for_normal_roles": max(0, usable - total),
        "by_state": by_state,
        "top_clients": by_user,
    }


def long_running(
    *,
    target: PgTarget,
    by: AgeBy = "query",
    min_seconds: float = 60.0,
    limit: int = 20,
) -> dict[str, Any]:
    """Backends older than ``min_seconds`` by query, transaction or backend age.

    By query, idle sessions are left out (their last query finished); sessions
    idle in a transaction are always kept and flagged: they hold their locks and
    their snapshot until someone ends them.
    """
    age = {
        "query": "query_age_s",
        "transaction": "xact_age_s",
        "backend": "backend_age_s",
    }
    if by not in age:
        raise InputError(f"Unknown age {by!r}: use query, transaction or backend.")
    idle_filter = "and a.state is distinct from 'idle'" if by == "query" else ""
    rows = target.rows(
        f"""
        select * from (
            select {_BACKEND_COLUMNS}
            from pg_stat_activity a
            where a.backend_type = 'client backend' and a.pid <> pg_backend_pid()
            {idle_filter}
        ) b
        where b.{age[by]} >= %(min)s
        order by b.{age[by]} desc nulls last
        limit %(limit)s
        """,
        {"min": min_seconds, "limit": limit},
    )
    for row in rows:
        row["idle_in_transaction"] = row["state"] in IDLE_IN_TRANSACTION
    return {
        "target": target.where,
        "by": by,
        "min_seconds": min_seconds,
        "backends": rows,
    }


@dataclass
class BlockingReport:
    """Who waits on whom: edges from blocker to waiter, plus every backend's facts."""

    target: str
    backends: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocked_by: dict[int, list[int]] = field(default_factory=dict)

    @property
    def blocks(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for waiter, blockers in sorted(self.blocked_by.items()):
            for blocker in blockers:
                out.setdefault(blocker, []).append(waiter)
        return out

    @property
    def roots(self) -> list[int]:
        """Blockers that wait on nobody: the sessions to look at first."""
        roots = [pid for pid in self.blocks if pid not in self.blocked_by]
        if roots or not self.blocks:
            return sorted(roots)
        return sorted(self.blocks)[:1]  # a cycle (deadlock about to be broken)

    def tree(self) -> list[dict[str, Any]]:
        """Nested ``{pid, blocks: [...]}`` from each root; a pid under each blocker."""

        def node(pid: int, seen: frozenset[int]) -> dict[str, Any]:
            children = [
                node(child, seen | {child})
                for child in self.blocks.get(pid, [])
                if child not in seen
            ]
            return {"pid": pid, "blocks": children}

        return [node(pid, frozenset({pid})) for pid in self.roots]

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "tree": self.tree(),
            "blocked_by": {str(k): v for k, v in self.blocked_by.items()},
            "backends": {str(k): v for k, v in self.backends.items()},
        }


def blocking(*, target: PgTarget) -> BlockingReport:
    """The wait tree from ``pg_blocking_pids()``, with what each waiter waits for."""
    waiters = target.rows(
        "select pid, pg_blocking_pids(pid) as blockers from pg_stat_activity "
        "where cardinality(pg_blocking_pids(pid)) > 0"
    )
    report = BlockingReport(target=target.where)
    for row in waiters:
        report.blocked_by[int(row["pid"])] = sorted(int(p) for p in row["blockers"])
    pids = set(report.blocked_by) | {p for ps in report.blocked_by.values() for p in ps}
    if not pids:
        return report
    rows = target.rows(
        f"""
        select {_BACKEND_COLUMNS},
            (select string_agg(distinct l.mode || ' on ' ||
                coalesce(l.relation::regclass::text, l.locktype), ', ')
             from pg_locks l where l.pid = a.pid and not l.granted) as waiting_for
        from pg_stat_activity a where a.pid = any(%(pids)s)
        """,
        {"pids": sorted(pids)},
    )
    for row in rows:
        row["idle_in_transaction"] = row["state"] in IDLE_IN_TRANSACTION
        report.backends[int(row["pid"])] = row
    return report
