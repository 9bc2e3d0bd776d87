"""``mgops pg …``: the runbook's PostgreSQL section (2.1) as safe commands.

Every session mgops opens has short lock and statement timeouts, so a
diagnostic never queues behind the lock it is looking for. Signals and
promotion are audited and can be attached to an incident with ``--incident N``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.tree import Tree

from mgops.cli.context import app_context
from mgops.cli.output import (
    JsonOption,
    confirm_typed,
    console,
    emit,
    err_console,
    table,
)
from mgops.cli.targets import (
    IncidentOption,
    TargetOption,
    UrlOption,
    YesOption,
    connection_url,
)
from mgops.errors import InputError

if TYPE_CHECKING:
    from mgops.runbooks.postgres.client import PgTarget

app = typer.Typer(
    help="PostgreSQL: diagnose, signal backends, fail over.", no_args_is_help=True
)


def _connect(url: str | None, target: str | None) -> PgTarget:
    from mgops.runbooks.postgres.client import connect

    return connect(connection_url("postgres_url", url, target))


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    from datetime import timedelta

    from mgops.clock import format_duration

    return format_duration(timedelta(seconds=seconds))


def _short(text: str | None, width: int = 60) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@app.command("slow-queries")
def slow_queries(
    min_mean_ms: float = typer.Option(20.0, "--min-mean-ms", help="pgHero: 20 ms."),
    min_calls: int = typer.Option(100, "--min-calls", help="pgHero: 100 calls."),
    sort: str = typer.Option("mean", "--sort", help="mean, total, calls or rows."),
    limit: int = typer.Option(10, "--limit", min=1),
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Slow statements from pg_stat_statements (whatever its column names)."""
    from mgops.runbooks.postgres.statements import slow_queries as read_slow

    result = read_slow(
        target=_connect(url, target),
        min_mean_ms=min_mean_ms,
        min_calls=min_calls,
        sort=sort,  # type: ignore[arg-type]
        limit=limit,
    )
    rows = [
        (
            q["mean_ms"],
            q["total_ms"],
            q["calls"],
            q["pct_of_total"],
            q["role"],
            _short(q["query"]),
        )
        for q in result["queries"]
    ]
    columns = ("mean ms", "total ms", "calls", "% time", "role", "query")
    emit(
        result,
        as_json,
        lambda: table(
            f"Slow queries (≥ {min_mean_ms:g} ms mean, ≥ {min_calls} calls; "
            f"{result['columns']['mean']})",
            columns,
            rows,
            empty="No slow queries.",
        ),
    )


@app.command("blocking")
def blocking(
    url: str = UrlOption, target: str = TargetOption, as_json: bool = JsonOption
) -> None:
    """The lock wait tree from pg_blocking_pids(): who blocks whom."""
    from mgops.runbooks.postgres.activity import blocking as read_blocking

    report = read_blocking(target=_connect(url, target))

    def label(pid: int) -> str:
        b = report.backends.get(pid, {})
        state = b.get("state") or "?"
        flag = " [red]idle in transaction[/red]" if b.get("idle_in_transaction") else ""
        wait = f" waits for {b['waiting_for']}" if b.get("waiting_for") else ""
        return (
            f"[bold]{pid}[/bold] {b.get('role')}@{b.get('database')} {state}{flag}"
            f" xact {_age(b.get('xact_age_s'))}{wait}: {_short(b.get('query'), 50)}"
        )

    def render() -> None:
        tree = report.tree()
        if not tree:
            console.print("[dim]No session is waiting on a lock.[/dim]")
            return

        def add(parent: Tree, node: dict[str, Any]) -> None:
            branch = parent.add(label(node["pid"]))
            for child in node["blocks"]:
                add(branch, child)

        root = Tree("Blocking sessions (roots first: end these to free the rest)")
        for node in tree:
            add(root, node)
        console.print(root)

    emit(report.as_dict(), as_json, render)


@app.command("connections")
def connections(
    url: str = UrlOption, target: str = TargetOption, as_json: bool = JsonOption
) -> None:
    """Client connections by state, as a share of max_connections."""
    from mgops.runbooks.postgres.activity import connections as read_connections

    result = read_connections(target=_connect(url, target))

    def render() -> None:
        colour = "red" if result["used_pct"] >= 80 else "green"
        console.print(
            f"[{colour}]{result['total']} of {result['max_connections']} connections "
            f"({result['used_pct']}%)[/{colour}], "
            f"{result['superuser_reserved']} reserved "
            "for superusers"
        )
        table(
            "By state",
            ("state", "count"),
            [(r["state"], r["count"]) for r in result["by_state"]],
        )
        table(
            "Top clients",
            ("role", "database", "application", "count"),
            [
                (r["role"], r["database"], r["application_name"], r["count"])
                for r in result["top_clients"]
            ],
        )

    emit(result, as_json, render)


@app.command("long-running")
def long_running(
    by: str = typer.Option("query", "--by", help="query, transaction or backend age."),
    min_seconds: float = typer.Option(60.0, "--min-seconds", min=0),
    limit: int = typer.Option(20, "--limit", min=1),
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Backends older than a threshold; idle-in-transaction sessions called out."""
    from mgops.runbooks.postgres.activity import long_running as read_long

    result = read_long(
        target=_connect(url, target),
        by=by,  # type: ignore[arg-type]  # checked by the core
        min_seconds=min_seconds,
        limit=limit,
    )
    rows = [
        (
            b["pid"],
            b["role"],
            b["state"] + (" ⚠" if b["idle_in_transaction"] else ""),
            _age(b["query_age_s"]),
            _age(b["xact_age_s"]),
            _age(b["backend_age_s"]),
            _short(b["query"]),
        )
        for b in result["backends"]
    ]

    def render() -> None:
        table(
            f"Backends by {by} age ≥ {min_seconds:g}s",
            ("pid", "role", "state", "query", "xact", "backend", "last query"),
            rows,
            empty="Nothing runs that long.",
        )
        idle = [b["pid"] for b in result["backends"] if b["idle_in_transaction"]]
        if idle:
            console.print(
                f"[yellow]⚠ idle in transaction: {', '.join(map(str, idle))}. They "
                "hold their locks; cancel does nothing to them, terminate ends "
                "them.[/yellow]"
            )

    emit(result, as_json, render)


def _signal(
    ctx: typer.Context,
    signal: str,
    pid: int,
    backend_start: str | None,
    force: bool,
    yes: bool,
    incident: int | None,
    url: str | None,
    target: str | None,
    as_json: bool,
    wait: float,
) -> None:
    from mgops.runbooks.postgres.activity import IDLE_IN_TRANSACTION
    from mgops.runbooks.postgres.signals import (
        cancel_cannot_help,
        find_backend,
        signal_backend,
    )

    conn = _connect(url, target)
    backend = find_backend(conn, pid)
    err_console.print(
        f"pid {pid}: {backend.role} {backend.application_name or '-'} {backend.state} "
        f"since backend start {backend.backend_start:%Y-%m-%d %H:%M:%S%z}\n  "
        f"{_short(backend.query, 100)}",
        highlight=False,
        markup=False,
    )
    reason = cancel_cannot_help(backend) if signal == "cancel" else None
    if reason and backend.state in IDLE_IN_TRANSACTION and sys.stdin.isatty():
        # Offer the signal that does help; without a terminal the core refuses
        # (and audits the refusal) with the same explanation.
        err_console.print(f"[yellow]{reason}[/yellow]")
        confirm_typed(str(pid), what=f"Terminate pid {pid} instead?", yes=False)
        signal, yes = "terminate", True
    if signal == "terminate":
        confirm_typed(
            str(pid), what=f"Terminate backend {pid} on {conn.host}.", yes=yes
        )
    app_ctx = app_context(ctx)
    result = signal_backend(
        target=conn,
        store=app_ctx.store,
        clock=app_ctx.clock,
        pid=pid,
        signal=signal,  # type: ignore[arg-type]
        expected_start=_instant(backend_start) or backend.backend_start,
        force=force,
        incident_id=incident,
        wait_seconds=wait,
    )
    done = "gone" if signal == "terminate" else "query cancelled"
    emit(result, as_json, lambda: console.print(f"pid {pid}: {done}"))


def _instant(text: str | None) -> datetime | None:
    """``--backend-start`` as printed by mgops (ISO 8601); no offset means UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--backend-start {text!r} is not an ISO 8601 instant "
            "(e.g. 2026-03-02T10:00:00.123456+00:00)."
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_StartOption = typer.Option(
    None, "--backend-start", help="Signal only if the pid still has this backend_start."
)
_ForceOption = typer.Option(
    False, "--force", help="Allow WAL senders, server processes, other mgops sessions."
)
_WaitOption = typer.Option(10.0, "--wait", help="Seconds to wait for the effect.")


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    pid: int = typer.Argument(...),
    backend_start: str = _StartOption,
    force: bool = _ForceOption,
    wait: float = _WaitOption,
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Cancel the running query of PID (pg_cancel_backend), same backend only."""
    _signal(
        ctx,
        "cancel",
        pid,
        backend_start,
        force,
        False,
        incident,
        url,
        target,
        as_json,
        wait,
    )


@app.command("terminate")
def terminate(
    ctx: typer.Context,
    pid: int = typer.Argument(...),
    backend_start: str = _StartOption,
    force: bool = _ForceOption,
    wait: float = _WaitOption,
    yes: bool = YesOption,
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """End backend PID (pg_terminate_backend) and wait until it is gone."""
    _signal(
        ctx,
        "terminate",
        pid,
        backend_start,
        force,
        yes,
        incident,
        url,
        target,
        as_json,
        wait,
    )


@app.command("replication")
def replication(
    url: str = UrlOption, target: str = TargetOption, as_json: bool = JsonOption
) -> None:
    """Lag per standby (on a primary); receive/replay positions (on a standby)."""
    from mgops.runbooks.postgres.replication import replication_status

    result = replication_status(target=_connect(url, target))

    def render() -> None:
        if result["role"] == "standby":
            console.print(
                f"standby: received {result['receive_lsn']}, "
                f"replayed {result['replay_lsn']} "
                f"({result['replay_backlog_bytes']} bytes to replay)"
                + (", [red]replay paused[/red]" if result["replay_paused"] else "")
            )
            return
        rows = [
            (
                s["application_name"],
                s["client_addr"],
                s["state"],
                s["sync_state"],
                s["replay_lag_bytes"],
                "caught up"
                if s["replay_lag_s"] is None
                else f"{s['replay_lag_s']:.3f}s",
            )
            for s in result["standbys"]
        ]
        table(
            f"Standbys of {result['target']} (at {result['current_lsn']})",
            ("name", "address", "state", "sync", "lag bytes", "replay lag"),
            rows,
            empty="No standby is connected.",
        )

    emit(result, as_json, render)


@app.command("lookup")
def lookup(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A lookup defined in the policy."),
    param: list[str] = typer.Option([], "--param", help="key=value, repeatable."),
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Run a read-only lookup from the policy (e.g. user --param id=42)."""
    from mgops.runbooks.postgres.lookup import parse_params, run_lookup

    app_ctx = app_context(ctx)
    result = run_lookup(
        target=_connect(url, target),
        store=app_ctx.store,
        policy=app_ctx.policy,
        name=name,
        params=parse_params(param),
        incident_id=incident,
    )

    def render() -> None:
        table(
            result["description"],
            result["columns"],
            [[r[c] for c in result["columns"]] for r in result["rows"]],
            empty="No rows.",
        )
        if result["truncated"]:
            console.print(
                "[yellow]more rows exist; the lookup's max_rows cut them[/yellow]"
            )

    emit(result, as_json, render)


@app.command("promote")
def promote(
    ctx: typer.Context,
    primary_url: str = typer.Option(
        None,
        "--primary-url",
        help="The old primary, to measure lag if it still answers.",
    ),
    max_lag_bytes: int = typer.Option(0, "--max-lag-bytes", min=0),
    force: bool = typer.Option(
        False, "--force", help="Promote despite lag (data loss)."
    ),
    cloud_sql: str = typer.Option(
        None,
        "--cloud-sql",
        help="Cloud SQL replica instance: print the checklist instead.",
    ),
    project: str = typer.Option(None, "--project", help="GCP project for --cloud-sql."),
    yes: bool = YesOption,
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Fail over: promote the standby at --url after a lag check; verify writes."""
    from mgops.runbooks.postgres import replication as rep

    app_ctx = app_context(ctx)
    if cloud_sql:
        steps = rep.cloud_sql_checklist(replica=cloud_sql, project=project)
        if incident is not None:
            rep.attach_checklist(
                store=app_ctx.store,
                clock=app_ctx.clock,
                incident_id=incident,
                title=f"Cloud SQL failover to {cloud_sql}",
                steps=steps,
            )

        def render() -> None:
            for number, step in enumerate(steps, 1):
                console.print(f"[ ] {number}. {step}", highlight=False, markup=False)

        emit(
            {"replica": cloud_sql, "steps": steps, "incident": incident},
            as_json,
            render,
        )
        return
    standby = _connect(url, target)
    primary = None
    if primary_url:
        try:
            from mgops.runbooks.postgres.client import connect

            primary = connect(primary_url)
        except Exception as exc:  # the old primary being down is why we are here
            err_console.print(
                f"[yellow]old primary not reachable ({exc}); lag measured on the "
                "standby only[/yellow]"
            )
    check = rep.check_promotion(standby=standby, primary=primary)
    err_console.print(
        f"standby {standby.where}: replayed {check.replay_lsn}, "
        f"lag to primary {'unknown' if check.lag_bytes is None else check.lag_bytes}"
        " bytes; " + ("; ".join(check.problems) or "no problems found"),
        highlight=False,
    )
    confirm_typed(
        f"promote {standby.host}",
        what="Promote the standby (replication to it ends).",
        yes=yes,
    )
    result = rep.promote(
        standby=standby,
        store=app_ctx.store,
        clock=app_ctx.clock,
        check=check,
        max_lag_bytes=max_lag_bytes,
        force=force,
        incident_id=incident,
    )
    emit(
        result,
        as_json,
        lambda: console.print(
            f"{standby.host} promoted; write check {result['verified']['write']}"
        ),
    )
