"""``mgops alerts …`` and ``mgops audit``: alert groups, silences, the action audit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, console, emit, table

if TYPE_CHECKING:
    from mgops.alerts.views import AlertGroupView

app = typer.Typer(
    help="Alert groups from Alertmanager and Events v2.", no_args_is_help=True
)


def _groups(ctx: typer.Context, open_only: bool) -> list[AlertGroupView]:
    from pydantic import TypeAdapter

    from mgops.alerts.views import AlertGroupView, list_groups
    from mgops.incidents.desk import ApiClient

    ctx_app = app_context(ctx)
    if ctx_app.server:
        data = ApiClient(ctx_app.server, ctx_app.token).call(
            "GET", "/api/v1/alerts/groups", params={"open": open_only}
        )
        return TypeAdapter(list[AlertGroupView]).validate_python(data)
    with ctx_app.store.session() as session:
        return list_groups(session, open_only=open_only)


@app.command("list")
def list_(
    ctx: typer.Context,
    open_only: bool = typer.Option(False, "--open"),
    as_json: bool = JsonOption,
) -> None:
    """Alert groups, newest first."""
    rows = _groups(ctx, open_only)
    emit(
        rows,
        as_json,
        lambda: table(
            "Alert groups",
            [
                "#",
                "source",
                "status",
                "sev",
                "title",
                "alerts",
                "incident",
                "deliveries",
            ],
            [
                (
                    g.id,
                    g.source,
                    g.status + (" (silenced)" if g.silenced_until else ""),
                    g.severity,
                    g.title,
                    f"{sum(a.status == 'firing' for a in g.alerts)}/{len(g.alerts)}"
                    " firing",
                    g.incident_id or "—",
                    g.deliveries,
                )
                for g in rows
            ],
            empty="No alert groups.",
        ),
    )


@app.command("show")
def show(ctx: typer.Context, group_id: int, as_json: bool = JsonOption) -> None:
    """One alert group with its alerts."""
    from mgops.alerts.views import AlertGroupView, get_group, group_view
    from mgops.incidents.desk import ApiClient

    ctx_app = app_context(ctx)
    if ctx_app.server:
        group = AlertGroupView.model_validate(
            ApiClient(ctx_app.server, ctx_app.token).call(
                "GET", f"/api/v1/alerts/groups/{group_id}"
            )
        )
    else:
        with ctx_app.store.session() as session:
            group = group_view(get_group(session, group_id))
    emit(
        group,
        as_json,
        lambda: table(
            f"Group {group.id}: {group.title}",
            ["fingerprint", "status", "summary", "labels"],
            [
                (
                    a.fingerprint,
                    a.status,
                    a.summary,
                    ", ".join(f"{k}={v}" for k, v in a.labels.items()),
                )
                for a in group.alerts
            ],
        ),
    )


@app.command("silence")
def silence(
    ctx: typer.Context,
    group_id: int,
    minutes: int = typer.Option(60, "--minutes", help="0 lifts the silence."),
    as_json: bool = JsonOption,
) -> None:
    """Silence a group's notifications for a while."""
    from mgops.alerts.views import AlertGroupView, silence_group
    from mgops.incidents.desk import ApiClient
    from mgops.web.api.alerts import SilenceRequest

    ctx_app = app_context(ctx)
    if ctx_app.server:
        group = AlertGroupView.model_validate(
            ApiClient(ctx_app.server, ctx_app.token).call(
                "POST",
                f"/api/v1/alerts/groups/{group_id}/silence",
                SilenceRequest(minutes=minutes),
            )
        )
    else:
        with ctx_app.store.session() as session:
            group = silence_group(
                session, group_id, minutes=minutes, now=ctx_app.clock.now()
            )
    until = (
        f"{group.silenced_until:%Y-%m-%d %H:%M} UTC" if group.silenced_until else None
    )
    emit(
        group,
        as_json,
        lambda: console.print(
            f"Group {group_id} silenced until {until}."
            if until
            else f"Group {group_id} is no longer silenced."
        ),
    )


def audit(
    ctx: typer.Context,
    kind: str = typer.Option(None, "--kind", help="Prefix, e.g. redis. or pg.cancel"),
    incident: int = typer.Option(None, "--incident"),
    outcome: str = typer.Option(None, "--outcome"),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOption,
) -> None:
    """The audit of runbook actions: who did what to which target, and how it ended."""
    from pydantic import TypeAdapter

    from mgops.audit import list_actions
    from mgops.incidents.desk import ApiClient
    from mgops.web.api.alerts import ActionView

    ctx_app = app_context(ctx)
    if ctx_app.server:
        data = ApiClient(ctx_app.server, ctx_app.token).call(
            "GET",
            "/api/v1/actions",
            params={
                "kind": kind,
                "incident": incident,
                "outcome": outcome,
                "limit": limit,
            },
        )
        rows = TypeAdapter(list[ActionView]).validate_python(data)
    else:
        rows = [
            ActionView.model_validate(r, from_attributes=True)
            for r in list_actions(
                ctx_app.store,
                kind=kind,
                incident_id=incident,
                outcome=outcome,
                limit=limit,
            )
        ]
    emit(
        rows,
        as_json,
        lambda: table(
            "Actions",
            ["#", "started (UTC)", "who", "action", "target", "outcome", "incident"],
            [
                (
                    r.id,
                    f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                    r.actor,
                    r.kind + (" (dry run)" if r.dry_run else ""),
                    r.target,
                    r.outcome,
                    r.incident_id or "",
                )
                for r in rows
            ],
            empty="No actions recorded.",
        ),
    )
