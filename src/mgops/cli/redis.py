"""``mgops redis …``: the runbook's Redis section (2.2) as safe commands.

Reads by default. Deletes are dry runs until ``--apply``; every change is audited
and can be attached to an incident with ``--incident N``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, confirm_typed, console, emit, table
from mgops.cli.targets import (
    IncidentOption,
    TargetOption,
    UrlOption,
    YesOption,
    connection_url,
    progress_bar,
)

if TYPE_CHECKING:
    from mgops.runbooks.redis.client import RedisTarget

app = typer.Typer(
    help="Redis: inspect the cache, delete keys safely.", no_args_is_help=True
)
sessions_app = typer.Typer(help="A user's sessions.", no_args_is_help=True)
ratelimit_app = typer.Typer(help="Rate-limit counters.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
app.add_typer(ratelimit_app, name="ratelimit")


def _connect(url: str | None, target: str | None) -> RedisTarget:
    from mgops.runbooks.redis.client import connect

    return connect(connection_url("redis_url", url, target))


def _throttle(pause_ms: float) -> Any:
    from mgops.runbooks.redis.keys import Throttle

    return Throttle(pause=pause_ms / 1000)


@app.command("memory")
def memory(
    url: str = UrlOption, target: str = TargetOption, as_json: bool = JsonOption
) -> None:
    """INFO memory per primary: used, peak, maxmemory, policy, evictions."""
    from mgops.runbooks.redis.inspect import memory as read_memory

    result = read_memory(target=_connect(url, target))
    rows = [
        (
            host,
            n["used_memory_human"],
            n["used_memory_peak_human"],
            n["maxmemory_human"],
            n["used_pct_of_max"],
            n["maxmemory_policy"],
            n["mem_fragmentation_ratio"],
            n["evicted_keys"],
        )
        for host, n in result["nodes"].items()
    ]
    columns = ("node", "used", "peak", "max", "% of max", "policy", "frag", "evicted")
    emit(result, as_json, lambda: table("Memory", columns, rows))


@app.command("dbsize")
def dbsize(
    url: str = UrlOption, target: str = TargetOption, as_json: bool = JsonOption
) -> None:
    """Key count per primary and in total."""
    from mgops.runbooks.redis.inspect import dbsize as read_dbsize

    result = read_dbsize(target=_connect(url, target))
    rows = [*result["nodes"].items(), ("total", result["total"])]
    emit(
        result,
        as_json,
        lambda: table(f"Keys in db {result['db']}", ("node", "keys"), rows),
    )


@app.command("hit-ratio")
def hit_ratio(
    ctx: typer.Context,
    interval: float = typer.Option(
        10.0, "--interval", min=0.1, help="Seconds between samples."
    ),
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Cache hit ratio over an interval (two samples), not since boot."""
    from mgops.runbooks.redis.inspect import hit_ratio as read_hit_ratio

    result = read_hit_ratio(
        target=_connect(url, target), clock=app_context(ctx).clock, interval=interval
    )

    def render() -> None:
        ratio = result["hit_ratio"]
        shown = "no reads" if ratio is None else f"{ratio:.1%}"
        console.print(
            f"hit ratio over {interval:g}s: {shown} "
            f"({result['hits']} hits, {result['misses']} misses); "
            f"since start: {result['since_start_hit_ratio']}"
        )

    emit(result, as_json, render)


@app.command("bigkeys")
def bigkeys(
    top: int = typer.Option(10, "--top", min=1, help="How many keys to list."),
    pattern: str = typer.Option("*", "--pattern", help="Only keys matching this glob."),
    prefix_depth: int = typer.Option(2, "--prefix-depth", min=1),
    pause_ms: float = typer.Option(
        1.0, "--pause-ms", min=0, help="Pause between batches."
    ),
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """The biggest keys by bytes and by elements, and totals per key prefix."""
    from mgops.runbooks.redis.inspect import big_keys
    from mgops.runbooks.redis.keys import count_keys

    conn = _connect(url, target)
    with progress_bar("scanning", count_keys(conn)) as advance:
        report = big_keys(
            target=conn,
            top=top,
            pattern=pattern,
            prefix_depth=prefix_depth,
            throttle=_throttle(pause_ms),
            on_step=advance,
        )

    def render() -> None:
        columns = ("key", "type", "bytes", "elements")
        for title, keys in (
            ("By bytes", report.by_bytes),
            ("By elements", report.by_length),
        ):
            table(title, columns, [(k.key, k.type, k.bytes, k.length) for k in keys])
        rows = [(p, f.keys, f.bytes) for p, f in list(report.prefixes.items())[:top]]
        table("By prefix", ("prefix", "keys", "bytes"), rows)
        console.print(f"{report.scanned} keys scanned on {report.target}")

    emit(report.as_dict(), as_json, render)


@app.command("delete-pattern")
def delete_pattern(
    ctx: typer.Context,
    pattern: str = typer.Argument(..., help="A SCAN glob, e.g. 'content:*'."),
    apply: bool = typer.Option(False, "--apply", help="Delete; without it, a dry run."),
    yes: bool = YesOption,
    pause_ms: float = typer.Option(
        0.0, "--pause-ms", min=0, help="Pause between batches."
    ),
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete keys matching PATTERN: SCAN + UNLINK in batches; a dry run by default."""
    from mgops.runbooks.redis.delete import delete_pattern as run_delete
    from mgops.runbooks.redis.delete import preview_pattern
    from mgops.runbooks.redis.keys import count_keys

    conn = _connect(url, target)
    store = app_context(ctx).store
    if apply and not yes:
        with progress_bar("counting", count_keys(conn)) as advance:
            preview = preview_pattern(conn, pattern, on_step=advance)
        _show_pattern(preview.as_dict(), as_json=False, stderr=True)
        confirm_typed(
            pattern, what=f"Delete {preview.matched} keys on {conn.where}.", yes=False
        )
    with progress_bar("deleting" if apply else "counting", count_keys(conn)) as advance:
        report = run_delete(
            target=conn,
            store=store,
            pattern=pattern,
            apply=apply,
            incident_id=incident,
            throttle=_throttle(pause_ms),
            on_step=advance,
        )
    _show_pattern(report.as_dict(), as_json=as_json)


def _show_pattern(
    result: dict[str, Any], *, as_json: bool, stderr: bool = False
) -> None:
    from mgops.cli.output import err_console

    out = err_console if stderr else console

    def render() -> None:
        verb = "deleted" if result["applied"] else "would delete"
        count = result["deleted"] if result["applied"] else result["matched"]
        out.print(
            f"{result['target']}: {verb} {count} keys matching {result['pattern']!r}"
        )
        for key in result["sample"]:
            out.print(f"  {key}", highlight=False, markup=False)
        if not result["applied"]:
            out.print("[dim]dry run: pass --apply to delete[/dim]")

    emit(result, as_json, render)


def _flush(
    ctx: typer.Context,
    url: str | None,
    target: str | None,
    *,
    everything: bool,
    yes: bool,
    incident: int | None,
    as_json: bool,
) -> None:
    from mgops.runbooks.redis.delete import flush
    from mgops.runbooks.redis.inspect import dbsize as read_dbsize

    conn = _connect(url, target)
    sizes = read_dbsize(target=conn)
    scope = "ALL databases" if everything else f"database {conn.db}"
    word = "flushall" if everything else "flushdb"
    confirm_typed(
        f"{word} {conn.host}/{conn.db}" if not everything else f"{word} {conn.host}",
        what=f"Remove every key in {scope} on {conn.host} "
        f"({sizes['total']} keys in db {conn.db}).",
        yes=yes,
    )
    result = flush(
        target=conn,
        store=app_context(ctx).store,
        everything=everything,
        incident_id=incident,
    )
    emit(
        result,
        as_json,
        lambda: console.print(
            f"{word} done on {conn.host}: {sum(result['keys_before'].values())} "
            "keys freed in the background"
        ),
    )


@app.command("flushdb")
def flushdb(
    ctx: typer.Context,
    yes: bool = YesOption,
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove every key in the database of the URL (typed confirmation)."""
    _flush(
        ctx, url, target, everything=False, yes=yes, incident=incident, as_json=as_json
    )


@app.command("flushall")
def flushall(
    ctx: typer.Context,
    yes: bool = YesOption,
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove every key in every database (typed confirmation)."""
    _flush(
        ctx, url, target, everything=True, yes=yes, incident=incident, as_json=as_json
    )


@ratelimit_app.command("reset")
def ratelimit_reset(
    ctx: typer.Context,
    user: str = typer.Option(None, "--user", help="User id."),
    ip: str = typer.Option(None, "--ip", help="Client IP address."),
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Reset the rate limit of one user or one IP address."""
    from mgops.runbooks.redis.sessions import reset_rate_limit

    result = reset_rate_limit(
        target=_connect(url, target),
        store=app_context(ctx).store,
        user_id=user,
        ip=ip,
        incident_id=incident,
    )
    emit(
        result,
        as_json,
        lambda: console.print(
            f"rate limit of {result['scope']} {result['id']} reset: "
            f"{len(result['deleted'])} counters removed",
            highlight=False,
        ),
    )


@sessions_app.command("list")
def sessions_list(
    user: str = typer.Option(..., "--user", help="User id."),
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Every session key of a user, with its TTL."""
    from mgops.runbooks.redis.sessions import list_sessions

    found = list_sessions(target=_connect(url, target), user_id=user)
    rows = [
        (s.key, "no expiry" if s.ttl_seconds is None else s.ttl_seconds) for s in found
    ]
    emit(
        [s.as_dict() for s in found],
        as_json,
        lambda: table(
            f"Sessions of user {user}", ("key", "ttl (s)"), rows, empty="No sessions."
        ),
    )


@sessions_app.command("ttl")
def sessions_ttl(
    user: str = typer.Option(None, "--user", help="User id: TTL of each session."),
    session: str = typer.Option(
        None, "--session", help="Session id: TTL of session:<id>."
    ),
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Time to live of a user's sessions, or of one session key."""
    from mgops.errors import InputError, NotFound
    from mgops.runbooks.redis.sessions import list_sessions, session_ttl

    conn = _connect(url, target)
    if (user is None) == (session is None):
        raise InputError("Give exactly one of --user ID or --session ID.")
    if user is not None:
        found = list_sessions(target=conn, user_id=user)
    else:
        one = session_ttl(target=conn, session_id=session)
        if one is None:
            raise NotFound(f"session:{session} does not exist (expired or never set).")
        found = [one]
    rows = [
        (s.key, "no expiry" if s.ttl_seconds is None else s.ttl_seconds) for s in found
    ]
    emit(
        [s.as_dict() for s in found],
        as_json,
        lambda: table("Session TTLs", ("key", "ttl (s)"), rows, empty="No sessions."),
    )


@sessions_app.command("invalidate")
def sessions_invalidate(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", help="User id."),
    yes: bool = YesOption,
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    as_json: bool = JsonOption,
) -> None:
    """Log a user out everywhere: delete all of their session keys."""
    from mgops.cli.output import err_console
    from mgops.runbooks.redis.sessions import invalidate_sessions, list_sessions

    conn = _connect(url, target)
    if not yes:
        found = list_sessions(target=conn, user_id=user)
        for s in found:
            err_console.print(f"  {s.key}", highlight=False, markup=False)
        confirm_typed(
            user, what=f"Delete {len(found)} sessions of user {user}.", yes=False
        )
    report = invalidate_sessions(
        target=conn, store=app_context(ctx).store, user_id=user, incident_id=incident
    )
    emit(
        report.as_dict(),
        as_json,
        lambda: console.print(
            f"{report.deleted} sessions of user {user} deleted", highlight=False
        ),
    )
