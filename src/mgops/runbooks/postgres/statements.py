"""Slow queries from pg_stat_statements, whatever the installed version calls them.

The runbook selects ``mean_time`` and ``total_time``; PostgreSQL 13 renamed them
``mean_exec_time`` and ``total_exec_time`` (planning time got its own columns),
so the runbook's query fails on every current server. mgops reads the view's
columns first and uses the names that exist.

The thresholds follow pgHero's defaults: a query is slow when it averages at
least 20 ms over at least 100 calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mgops.errors import InputError, TargetError
from mgops.runbooks.postgres.client import PgTarget

SortKey = Literal["mean", "total", "calls", "rows"]
MIN_MEAN_MS = 20.0
MIN_CALLS = 100


@dataclass(frozen=True)
class TimingColumns:
    """The names of the timing columns in this server's pg_stat_statements."""

    mean: str
    total: str

    @classmethod
    def from_names(cls, names: set[str]) -> TimingColumns:
        if {"mean_exec_time", "total_exec_time"} <= names:
            return cls(mean="mean_exec_time", total="total_exec_time")
        if {"mean_time", "total_time"} <= names:
            return cls(mean="mean_time", total="total_time")
        raise TargetError(
            "pg_stat_statements has neither mean_exec_time nor mean_time; "
            "this version of the extension is not supported."
        )


def timing_columns(target: PgTarget) -> TimingColumns:
    """Look the view up as the query will (search_path) and read its columns."""
    found = target.rows(
        "select a.attname from pg_attribute a "
        "where a.attrelid = to_regclass('pg_stat_statements') "
        "and a.attnum > 0 and not a.attisdropped"
    )
    if not found:
        db = target.one("select current_database() as db")["db"]
        raise TargetError(
            f"pg_stat_statements is not installed in database {db!r}: run "
            "CREATE EXTENSION pg_stat_statements (the library must be in "
            "shared_preload_libraries)."
        )
    return TimingColumns.from_names({row["attname"] for row in found})


def slow_queries(
    *,
    target: PgTarget,
    min_mean_ms: float = MIN_MEAN_MS,
    min_calls: int = MIN_CALLS,
    sort: SortKey = "mean",
    limit: int = 10,
) -> dict[str, Any]:
    """Statements over the thresholds, sorted, with their share of all query time."""
    columns = timing_columns(target)
    order = {
        "mean": "mean_ms",
        "total": "total_ms",
        "calls": "calls",
        "rows": "rows",
    }.get(sort)
    if order is None:
        raise InputError(f"Unknown sort {sort!r}: use mean, total, calls or rows.")
    # Column names come from the fixed set above, never from input.
    sql = f"""
        with s as (
            select s.queryid, s.query, s.calls, s.rows,
                   s.{columns.mean} as mean_ms, s.{columns.total} as total_ms,
                   r.rolname as role, d.datname as database
            from pg_stat_statements s
            left join pg_roles r on r.oid = s.userid
            left join pg_database d on d.oid = s.dbid
        ), t as (select nullif(sum(total_ms), 0) as all_ms from s)
        select s.*, round((100 * s.total_ms / t.all_ms)::numeric, 2)::float
                   as pct_of_total
        from s, t
        where s.mean_ms >= %(min_mean)s and s.calls >= %(min_calls)s
        order by {order} desc
        limit %(limit)s
    """
    rows = target.rows(
        sql, {"min_mean": min_mean_ms, "min_calls": min_calls, "limit": limit}
    )
    return {
        "target": target.where,
        "columns": {"mean": columns.mean, "total": columns.total},
        "thresholds": {"min_mean_ms": min_mean_ms, "min_calls": min_calls},
        "sort": sort,
        "queries": [_clean(r) for r in rows],
    }


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["mean_ms"] = round(float(row["mean_ms"]), 3)
    row["total_ms"] = round(float(row["total_ms"]), 3)
    row["queryid"] = None if row["queryid"] is None else str(row["queryid"])
    return row
