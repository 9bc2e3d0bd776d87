"""Named, read-only lookups from the policy (runbook 5.2: "check user's data").

The runbook pastes an id into ``SELECT * FROM users WHERE id = '<id>'``; here the
query text comes from the policy, the id is bound by the driver, and the
statement runs inside ``BEGIN READ ONLY`` so that even a policy edit cannot make
a lookup write. Every lookup is audited (kind ``pg.lookup.read``): it reads
personal data.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql as pg_sql

from mgops.audit import audited
from mgops.errors import InputError, NotFound
from mgops.policy import Policy
from mgops.runbooks.postgres.client import PgTarget, translated
from mgops.store.db import Store


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``["id=42", "x=a=b"]`` → ``{"id": "42", "x": "a=b"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"--param {pair!r} is not key=value.")
        out[name.strip()] = value
    return out


def run_lookup(
    *,
    target: PgTarget,
    store: Store,
    policy: Policy,
    name: str,
    params: dict[str, str],
    incident_id: int | None = None,
) -> dict[str, Any]:
    """Run the policy's lookup ``name`` with ``params`` in a read-only transaction."""
    lookup = policy.lookups.get(name)
    if lookup is None:
        known = ", ".join(sorted(policy.lookups)) or "none are defined"
        raise NotFound(f"There is no lookup named {name!r} ({known}).")
    missing = [p for p in lookup.params if p not in params]
    extra = sorted(set(params) - set(lookup.params))
    if missing or extra:
        raise InputError(
            f"Lookup {name!r} takes --param {', '.join(lookup.params) or '(none)'}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
            + "."
        )
    with audited(
        store,
        kind="pg.lookup.read",
        target=target.where,
        params={"lookup": name, "params": params},
        incident_id=incident_id,
    ) as action:
        with translated(target.where), target.conn.transaction(force_rollback=True):
            target.conn.execute("set transaction read only")
            cursor = target.conn.execute(pg_sql.SQL(lookup.sql), params)
            rows = cursor.fetchmany(lookup.max_rows + 1)
            columns = [c.name for c in cursor.description or []]
        truncated = len(rows) > lookup.max_rows
        rows = rows[: lookup.max_rows]
        action.result.update(rows=len(rows), truncated=truncated)
        return {
            "lookup": name,
            "description": lookup.description,
            "columns": columns,
            "rows": rows,
            "truncated": truncated,
        }
