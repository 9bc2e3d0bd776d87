"""``mgops incident …``: the incident desk from the terminal (runbook 3.1–3.3)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal, cast

import typer
from rich.markup import escape
from rich.panel import Panel

from mgops.cli.context import get_desk
from mgops.cli.output import JsonOption, console, emit, table
from mgops.clock import as_utc
from mgops.errors import InputError
from mgops.incidents.requests import (
    CloseRequest,
    DeclareRequest,
    EditRequest,
    NoteRequest,
    OwnerRequest,
    PhaseRequest,
    ResolveRequest,
    SeverityRequest,
    StatusUpdateRequest,
    TickRequest,
)
from mgops.incidents.views import IncidentView, SlaClock
from mgops.policy.schema import STATUS_STATES

Severity = Literal["P1", "P2", "P3", "P4"]

app = typer.Typer(help="Declare, work and review incidents.", no_args_is_help=True)

_CLOCK_STYLE = {
    "overdue": "bold red",
    "pending": "yellow",
    "met": "green",
    "met-late": "red",
    "not-applicable": "dim",
}


def _clock(clock: SlaClock) -> str:
    return f"[{_CLOCK_STYLE[clock.state]}]{escape(clock.text)}[/]"


def _severity(value: str) -> Severity:
    return cast("Severity", _checked(value, ("P1", "P2", "P3", "P4"), "severity"))


def _checked(value: str, choices: tuple[str, ...], what: str) -> str:
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise typer.BadParameter(f"{what} must be one of {', '.join(choices)}")


def _show(view: IncidentView) -> None:
    head = (
        f"[bold]#{view.id} {escape(view.title)}[/bold]\n"
        f"{view.severity} · {view.phase} · owner {escape(view.owner or '—')} · "
        f"#{view.channel}"
    )
    if view.services:
        head += f"\nservices: {', '.join(view.services)}"
    if view.impact:
        head += f"\nimpact: {escape(view.impact)}"
    head += "\n" + "   ".join(_clock(c) for c in view.clocks)
    console.print(Panel(head, expand=False))
    table(
        f"{view.phase} checklist",
        ["", "item", "id", "ticked by"],
        [
            (
                "✓" if i.ticked else ("□" if i.required else "·"),
                i.text,
                i.id,
                f"{i.ticked_by} {i.ticked_at:%H:%M}"
                if i.ticked and i.ticked_at
                else "",
            )
            for i in view.checklist.items
        ],
        empty="This phase has no checklist.",
    )
    table(
        "Timeline",
        ["time (UTC)", "who", "what"],
        [
            (f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.message)
            for e in view.timeline[-15:]
        ],
    )


@app.command("declare")
def declare(
    ctx: typer.Context,
    title: str = typer.Argument(..., help="Brief description."),
    severity: str = typer.Option(..., "--severity", "-s", help="P1, P2, P3 or P4."),
    impact: str = typer.Option("", "--impact", help="Customer impact."),
    service: list[str] = typer.Option(
        [], "--service", help="Affected service (repeat)."
    ),
    customer_facing: bool = typer.Option(False, "--customer-facing"),
    users_affected: float = typer.Option(
        None, "--users-affected", help="Percent, 0-100."
    ),
    owner: str = typer.Option(None, "--owner", help="Incident owner."),
    page: bool = typer.Option(
        True, "--page/--no-page", help="Page the on-call as the severity says."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Declare an incident; it starts in DETECT with its SLA clocks running."""
    req = DeclareRequest(
        title=title,
        severity=_severity(severity),
        impact=impact,
        services=service,
        customer_facing=customer_facing,
        users_affected_pct=users_affected,
        owner=owner,
        page=page,
    )
    view = get_desk(ctx).declare(req)
    emit(view, as_json, lambda: _show(view))


@app.command("list")
def list_(
    ctx: typer.Context,
    phase: str = typer.Option(None, "--phase"),
    severity: str = typer.Option(None, "--severity", "-s"),
    open_only: bool = typer.Option(False, "--open", help="Only unresolved incidents."),
    as_json: bool = JsonOption,
) -> None:
    """List incidents, newest first."""
    rows = get_desk(ctx).list(phase=phase, severity=severity, open_only=open_only)
    emit(
        rows,
        as_json,
        lambda: table(
            "Incidents",
            ["#", "sev", "phase", "title", "owner", "clocks"],
            [
                (
                    r.id,
                    r.severity,
                    r.phase,
                    r.title,
                    r.owner or "—",
                    "  ".join(
                        _clock(c) for c in r.clocks if c.state != "not-applicable"
                    ),
                )
                for r in rows
            ],
            empty="No incidents match.",
        ),
    )


@app.command("show")
def show(ctx: typer.Context, incident_id: int, as_json: bool = JsonOption) -> None:
    """Show an incident: clocks, current checklist, recent timeline."""
    view = get_desk(ctx).show(incident_id)
    emit(view, as_json, lambda: _show(view))


@app.command("timeline")
def timeline(ctx: typer.Context, incident_id: int, as_json: bool = JsonOption) -> None:
    """The incident's whole timeline."""
    view = get_desk(ctx).show(incident_id)
    emit(
        view.timeline,
        as_json,
        lambda: table(
            f"Incident {incident_id} timeline",
            ["time (UTC)", "who", "kind", "what"],
            [
                (f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.kind, e.message)
                for e in view.timeline
            ],
        ),
    )


@app.command("assign")
def assign(
    ctx: typer.Context, incident_id: int, owner: str, as_json: bool = JsonOption
) -> None:
    """Make someone the incident owner."""
    view = get_desk(ctx).assign(incident_id, OwnerRequest(owner=owner))
    emit(view, as_json, lambda: console.print(f"#{view.id} owner: {view.owner}"))


@app.command("severity")
def severity(
    ctx: typer.Context,
    incident_id: int,
    new: str = typer.Argument(..., help="P1, P2, P3 or P4."),
    reason: str = typer.Option(..., "--reason", help="Why the grade changes."),
    as_json: bool = JsonOption,
) -> None:
    """Change the severity (recorded with the reason)."""
    req = SeverityRequest(severity=_severity(new), reason=reason)
    view = get_desk(ctx).set_severity(incident_id, req)
    emit(view, as_json, lambda: console.print(f"#{view.id} is now {view.severity}."))


@app.command("edit")
def edit(
    ctx: typer.Context,
    incident_id: int,
    impact: str = typer.Option(None, "--impact"),
    service: list[str] = typer.Option(None, "--service"),
    customer_facing: bool = typer.Option(None, "--customer-facing/--internal-only"),
    users_affected: float = typer.Option(None, "--users-affected"),
    root_cause: str = typer.Option(None, "--root-cause"),
    resolution: str = typer.Option(None, "--resolution"),
    postmortem_at: datetime = typer.Option(
        None, "--postmortem-at", help="When the review meets (UTC unless an offset)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Change an incident's details."""
    req = EditRequest(
        impact=impact,
        services=service or None,
        customer_facing=customer_facing,
        users_affected_pct=users_affected,
        root_cause=root_cause,
        resolution=resolution,
        postmortem_at=as_utc(postmortem_at) if postmortem_at else None,
    )
    view = get_desk(ctx).edit(incident_id, req)
    emit(view, as_json, lambda: _show(view))


@app.command("checklist")
def checklist(ctx: typer.Context, incident_id: int, as_json: bool = JsonOption) -> None:
    """The current phase's checklist."""
    view = get_desk(ctx).show(incident_id)
    emit(
        view.checklist,
        as_json,
        lambda: table(
            f"#{incident_id} {view.phase} checklist",
            ["", "id", "item", "ticked by"],
            [
                (
                    "✓" if i.ticked else "□",
                    i.id,
                    i.text + ("" if i.required else " (optional)"),
                    i.ticked_by or "",
                )
                for i in view.checklist.items
            ],
        ),
    )


@app.command("tick")
def tick(
    ctx: typer.Context,
    incident_id: int,
    items: list[str] = typer.Argument(..., help="Checklist item ids."),
    note: str = typer.Option(None, "--note"),
    as_json: bool = JsonOption,
) -> None:
    """Tick items of the current phase's checklist."""
    desk = get_desk(ctx)
    view = None
    for item in items:
        view = desk.tick(incident_id, item, TickRequest(note=note))
    assert view is not None
    listed = view.checklist.items
    done = sum(i.ticked for i in listed)
    still_open = ", ".join(i.id for i in view.checklist.open_items) or "none"
    summary = (
        f"#{incident_id} {view.phase}: {done}/{len(listed)} ticked; open: {still_open}"
    )
    emit(view.checklist, as_json, lambda: console.print(summary))


@app.command("untick")
def untick(
    ctx: typer.Context, incident_id: int, item: str, as_json: bool = JsonOption
) -> None:
    """Untick an item (recorded)."""
    view = get_desk(ctx).untick(incident_id, item)
    emit(view.checklist, as_json, lambda: console.print(f"Unticked {item}."))


@app.command("advance")
def advance(
    ctx: typer.Context,
    incident_id: int,
    to: str = typer.Option(None, "--to", help="Target phase (default: the next)."),
    force: bool = typer.Option(False, "--force", help="Leave open items (recorded)."),
    reason: str = typer.Option(None, "--reason"),
    as_json: bool = JsonOption,
) -> None:
    """Move to the next phase; open checklist items need --force."""
    req = PhaseRequest.model_validate(
        {"to": to.upper() if to else None, "force": force, "reason": reason}
    )
    view = get_desk(ctx).move(incident_id, req)
    emit(view, as_json, lambda: console.print(f"#{view.id} is in {view.phase}."))


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    incident_id: int,
    root_cause: str = typer.Option(None, "--root-cause"),
    resolution: str = typer.Option(None, "--resolution", help="What fixed it."),
    force: bool = typer.Option(False, "--force"),
    as_json: bool = JsonOption,
) -> None:
    """Resolve: leave RESOLVE for REVIEW; stops the resolution clock."""
    view = get_desk(ctx).resolve(
        incident_id,
        ResolveRequest(root_cause=root_cause, resolution=resolution, force=force),
    )
    emit(
        view,
        as_json,
        lambda: console.print(
            f"#{view.id} resolved at {view.resolved_at:%H:%M} UTC; now in REVIEW. "
            f"Draft the post-mortem: mgops incident postmortem {view.id}"
        ),
    )


@app.command("close")
def close(
    ctx: typer.Context,
    incident_id: int,
    force: bool = typer.Option(False, "--force"),
    as_json: bool = JsonOption,
) -> None:
    """Close a reviewed incident."""
    view = get_desk(ctx).close(incident_id, CloseRequest(force=force))
    emit(view, as_json, lambda: console.print(f"#{view.id} closed."))


@app.command("update")
def update(
    ctx: typer.Context,
    incident_id: int,
    state: str = typer.Option(..., "--state", help=" / ".join(STATUS_STATES)),
    know: str = typer.Option(..., "--know", help="What we know."),
    doing: str = typer.Option(..., "--doing", help="What we're doing."),
    next_in: int = typer.Option(None, "--next-in", help="Minutes to the next update."),
    internal: bool = typer.Option(False, "--internal", help="Not on the status page."),
    as_json: bool = JsonOption,
) -> None:
    """Post a status update; it restarts the next-update clock."""
    req = StatusUpdateRequest(
        state=_checked(state, STATUS_STATES, "state"),  # type: ignore[arg-type]
        what_we_know=know,
        what_we_are_doing=doing,
        next_update_in_minutes=next_in,
        public=not internal,
    )
    posted = get_desk(ctx).post_update(incident_id, req)
    nxt = f"{posted.next_update_at:%H:%M} UTC" if posted.next_update_at else "none due"
    emit(
        posted,
        as_json,
        lambda: console.print(
            f"Posted {posted.state} update on #{incident_id}; next update: {nxt}."
        ),
    )


@app.command("note")
def note(
    ctx: typer.Context,
    incident_id: int,
    text: str,
    action_item: bool = typer.Option(False, "--action-item", help="A follow-up to do."),
    as_json: bool = JsonOption,
) -> None:
    """Add a note (or an action item) to the timeline."""
    view = get_desk(ctx).note(
        incident_id, NoteRequest(text=text, action_item=action_item)
    )
    emit(view.timeline[-1], as_json, lambda: console.print("Noted."))


@app.command("comms")
def comms(
    ctx: typer.Context,
    incident_id: int,
    kind: str = typer.Option(
        "declaration",
        "--kind",
        help="declaration, status-update, resolved, customer-email",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Render a communication from the policy's templates, ready to paste."""
    view = get_desk(ctx).comms(incident_id, kind)

    def render() -> None:
        if view.subject:
            typer.echo(f"Subject: {view.subject}\n")
        typer.echo(view.text)

    emit(view, as_json, render)


@app.command("postmortem")
def postmortem(
    ctx: typer.Context,
    incident_id: int,
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file."),
    as_json: bool = JsonOption,
) -> None:
    """Write the Markdown post-mortem draft (at REVIEW)."""
    view = get_desk(ctx).postmortem(incident_id)
    if output is not None:
        try:
            output.write_text(view.markdown, "utf-8")
        except OSError as exc:
            raise InputError(f"Cannot write {output}: {exc.strerror}.") from None

    def render() -> None:
        if output is not None:
            console.print(f"Wrote {output}.")
        else:
            typer.echo(view.markdown, nl=False)

    emit(view, as_json, render)
