"""``mgops oncall``: who is on call, the schedule, overrides, members, hand-offs.

Times typed without an offset (``2026-03-30 09:00``) are read in the schedule's
zone; ``Z`` or ``+02:00`` pin an instant. Every listing takes ``--json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mgops.cli.context import app_context
from mgops.cli.output import (
    JsonOption,
    confirm_typed,
    console,
    emit,
    print_json,
    table,
)
from mgops.config import current_actor

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from mgops.cli.context import AppContext

app = typer.Typer(
    help="On-call: rotations, overrides, hand-offs.", no_args_is_help=True
)
override_app = typer.Typer(
    help="Somebody else on call for a while.", no_args_is_help=True
)
member_app = typer.Typer(help="Who is in the rotation.", no_args_is_help=True)
handoff_app = typer.Typer(help="The hand-off summary, its acknowledgement, checklist.")
app.add_typer(override_app, name="override")
app.add_typer(member_app, name="member")
app.add_typer(handoff_app, name="handoff")

ScheduleOption = typer.Option(
    None, "--schedule", "-s", help="Schedule name (default: the first one)."
)


@dataclass
class Desk:
    """A session on a seeded store, plus the context's clock and policy."""

    app: AppContext
    session: Session

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    def zone(self, schedule: str | None) -> ZoneInfo:
        from mgops.oncall.rotation import zone_named
        from mgops.oncall.service import schedule_row

        return zone_named(schedule_row(self.session, schedule).timezone)

    def when(self, text: str | None, schedule: str | None) -> datetime:
        from mgops.oncall.service import instant_named

        return instant_named(text, self.zone(schedule), now=self.now)


@contextmanager
def desk(ctx: typer.Context) -> Iterator[Desk]:
    from mgops.oncall.service import ensure_seeded

    context = app_context(ctx)
    context.require_local("On-call commands")
    with context.store.session() as session:
        ensure_seeded(session, context.policy, now=context.clock.now())
        yield Desk(context, session)


def _names(session: Session, schedule: str | None) -> list[str]:
    from mgops.oncall.service import schedule_names, schedule_row

    if schedule is not None:
        return [schedule_row(session, schedule).name]
    return schedule_names(session)


@app.command("now")
def now(
    ctx: typer.Context, schedule: str = ScheduleOption, as_json: bool = JsonOption
) -> None:
    """Who is on call right now, on every schedule (or one)."""
    _who(ctx, schedule, None, as_json)


@app.command("who")
def who(
    ctx: typer.Context,
    at: str = typer.Option(..., "--at", help="The time to ask about."),
    schedule: str = ScheduleOption,
    as_json: bool = JsonOption,
) -> None:
    """Who is (or was, or will be) on call at a time."""
    _who(ctx, schedule, at, as_json)


def _who(
    ctx: typer.Context, schedule: str | None, at: str | None, as_json: bool
) -> None:
    from mgops.cli.oncall_render import local, plain
    from mgops.oncall.rotation import zone_named

    context = app_context(ctx)
    found_all = (
        _who_remote(context, schedule, at)
        if context.server
        else _who_local(ctx, schedule, at)
    )
    answers = [
        (a.oncall.schedule, zone_named(a.timezone), a.oncall, a.next_handoff)
        for a in found_all
    ]

    def render() -> None:
        table(
            None,
            ["schedule", "at", "primary", "secondary", "until", "next hand-off"],
            [
                (
                    name,
                    local(found.at, zone),
                    _primary_text(found),
                    found.secondary or "-",
                    local(found.shift_end, zone),
                    f"{local(h.at, zone)} → {h.incoming}",
                )
                for name, zone, found, h in answers
            ],
        )

    data = [{**plain(found), "next_handoff": plain(h)} for _, _, found, h in answers]
    emit(data, as_json, render)


def _who_local(ctx: typer.Context, schedule: str | None, at: str | None) -> list[Any]:
    from mgops.oncall.service import who_answers

    with desk(ctx) as d:
        return who_answers(d.session, schedule, at, now=d.now)


def _who_remote(context: AppContext, schedule: str | None, at: str | None) -> list[Any]:
    """The same answers from the server named by ``--server`` (its store, its clock)."""
    from mgops.incidents.desk import ApiClient
    from mgops.oncall.schedule import Handoff, OnCall
    from mgops.oncall.service import WhoAnswer

    assert context.server is not None
    rows = ApiClient(context.server, context.token).call(
        "GET", "/api/v1/oncall", params={"schedule": schedule, "at": at}
    )

    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    answers = []
    for row in rows:
        handoff = row["next_handoff"]
        answers.append(
            WhoAnswer(
                row["timezone"],
                OnCall(
                    schedule=row["schedule"],
                    at=instant(row["at"]),
                    primary=row["primary"],
                    secondary=row["secondary"],
                    shift_start=instant(row["shift_start"]),
                    shift_end=instant(row["shift_end"]),
                    via_override=row["via_override"],
                    override_id=row["override_id"],
                    covering=row["covering"],
                ),
                Handoff(
                    schedule=row["schedule"],
                    shift=handoff["shift"],
                    at=instant(handoff["at"]),
                    outgoing=handoff["outgoing"],
                    incoming=handoff["incoming"],
                    shift_end=instant(handoff["shift_end"]),
                ),
            )
        )
    return answers


def _api(context: AppContext) -> Any:
    from mgops.incidents.desk import ApiClient

    assert context.server is not None
    return ApiClient(context.server, context.token)


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _override_from_api(row: dict[str, Any]) -> tuple[Any, ZoneInfo]:
    """An override as the server returned it, with its schedule's zone."""
    from mgops.oncall.rotation import zone_named
    from mgops.oncall.service import OverrideView

    times = ("starts_at", "ends_at", "created_at", "removed_at")
    view = OverrideView(**{**row, **{k: _instant(row[k]) for k in times}})
    return view, zone_named(view.timezone)


def _primary_text(found: Any) -> str:
    if found.primary is None:
        return "(nobody)"
    if found.via_override:
        extra = f", covering {found.covering}" if found.covering else ""
        return f"{found.primary} (override #{found.override_id}{extra})"
    return str(found.primary)


@app.command("schedule")
def schedule_cmd(
    ctx: typer.Context,
    start: str = typer.Option(None, "--from", help="Start (default: now)."),
    end: str = typer.Option(None, "--to", help="End (default: four weeks on)."),
    schedule: str = ScheduleOption,
    show_chart: bool = typer.Option(True, "--chart/--no-chart", help="Draw bars."),
    as_json: bool = JsonOption,
) -> None:
    """Who is on call from --from to --to: a table and a timeline chart."""
    from mgops.cli.oncall_render import chart, plain, segment_rows
    from mgops.oncall.service import (
        membership_history,
        schedule_row,
        schedule_timeline,
    )

    with desk(ctx) as d:
        name = schedule_row(d.session, schedule).name
        zone = d.zone(name)
        lo = d.when(start, name)
        hi = d.when(end, name) if end else lo + timedelta(days=28)
        segments = schedule_timeline(d.session, name, lo, hi)
        history = membership_history(d.session, name)
    members = history[-1].members
    changes = [c for c in history if c.seq > 0 and lo <= c.effective_at < hi]
    notes = {c.effective_at: _change_note(c) for c in changes}
    people = members + sorted(
        {p for s in segments for p in (s.primary, s.secondary) if p} - set(members)
    )

    def render() -> None:
        table(
            f"{name} ({zone.key})",
            ["from", "to", "length", "primary", "secondary", "note"],
            segment_rows(segments, zone, notes),
        )
        if show_chart:
            width = max(24, min(120, console.width - 24))
            console.print(chart(segments, lo, hi, zone, width=width, people=people))

    data = {
        "schedule": name,
        "timezone": zone.key,
        "from": lo,
        "to": hi,
        "segments": plain(segments),
        "changes": plain(changes),
    }
    emit(data, as_json, render)


def _change_note(change: Any) -> str:
    if change.takes_over:
        return f"{change.person} removed; {change.takes_over} took over at once"
    return f"{change.person} {'added' if change.change == 'add' else 'removed'}"


@app.command("ical")
def ical_cmd(
    ctx: typer.Context,
    schedule: str = ScheduleOption,
    person: str = typer.Option(None, "--person", help="Only this person's shifts."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to a file."),
) -> None:
    """The iCalendar feed (as served at /api/v1/oncall/{schedule}.ics)."""
    from mgops.oncall.ical import feed_text
    from mgops.oncall.service import schedule_row

    with desk(ctx) as d:
        name = schedule_row(d.session, schedule).name
        text = feed_text(d.session, name, now=d.now, person=person)
    if output is not None:
        output.write_bytes(text.encode("utf-8"))
        console.print(f"Wrote {output}.")
    else:
        typer.echo(text, nl=False)


@override_app.command("add")
def override_add(
    ctx: typer.Context,
    person: str = typer.Option(..., "--person", "-p", help="Who goes on call."),
    covers: str = typer.Option(
        None, "--covers", help="Replace only this person's shifts in the window."
    ),
    start: str = typer.Option(..., "--from", help="Start of the window."),
    end: str = typer.Option(..., "--to", help="End of the window."),
    reason: str = typer.Option("", "--reason", help="Why, for the record."),
    schedule: str = ScheduleOption,
    as_json: bool = JsonOption,
) -> None:
    """Y covers X (--covers X) or Y is on call for the window."""
    from mgops.cli.oncall_render import local, plain
    from mgops.oncall.service import add_override, schedule_row

    context = app_context(ctx)
    if context.server:
        from mgops.oncall.requests import OverrideIn

        body = OverrideIn(
            person=person,
            covers=covers,
            starts_at=start,
            ends_at=end,
            reason=reason,
            schedule=schedule,
        )
        made, zone = _override_from_api(
            _api(context).call("POST", "/api/v1/oncall/overrides", body)
        )
        name = made.schedule
    else:
        with desk(ctx) as d:
            name = schedule_row(d.session, schedule).name
            made = add_override(
                d.session,
                name,
                person=person,
                covers=covers,
                starts_at=d.when(start, name),
                ends_at=d.when(end, name),
                reason=reason,
                actor=current_actor(),
                now=d.now,
            )
            zone = d.zone(name)
    what = f"{made.person} covers {made.covers}" if made.covers else made.person
    emit(
        plain(made),
        as_json,
        lambda: console.print(
            f"Override #{made.id} on {name}: {what}, "
            f"{local(made.starts_at, zone)} → {local(made.ends_at, zone)}."
        ),
    )


@override_app.command("list")
def override_list(
    ctx: typer.Context,
    schedule: str = ScheduleOption,
    everything: bool = typer.Option(False, "--all", help="Past and removed too."),
    as_json: bool = JsonOption,
) -> None:
    """Overrides not over yet (--all: every one on record)."""
    from mgops.cli.oncall_render import local, plain
    from mgops.oncall.service import list_overrides

    context = app_context(ctx)
    if context.server:
        rows = _api(context).call(
            "GET",
            "/api/v1/oncall/overrides",
            params={"schedule": schedule, "all": everything},
        )
        pairs = [_override_from_api(row) for row in rows]
        found = [view for view, _ in pairs]
        zones = {view.schedule: zone for view, zone in pairs}
    else:
        with desk(ctx) as d:
            found = list_overrides(
                d.session, schedule, now=d.now, include_past=everything
            )
            zones = {o.schedule: d.zone(o.schedule) for o in found}
    emit(
        plain(found),
        as_json,
        lambda: table(
            "Overrides",
            ["id", "schedule", "who", "covers", "from", "to", "reason", "removed"],
            [
                (
                    o.id,
                    o.schedule,
                    o.person,
                    o.covers or "(anyone)",
                    local(o.starts_at, zones[o.schedule]),
                    local(o.ends_at, zones[o.schedule]),
                    o.reason,
                    local(o.removed_at, zones[o.schedule]) if o.removed_at else "",
                )
                for o in found
            ],
            empty="No overrides.",
        ),
    )


@override_app.command("remove")
def override_remove(
    ctx: typer.Context,
    override_id: int = typer.Argument(..., help="The override's id."),
    as_json: bool = JsonOption,
) -> None:
    """Cancel an override; one already running ends now."""
    from mgops.cli.oncall_render import plain
    from mgops.oncall.service import remove_override

    context = app_context(ctx)
    if context.server:
        gone, _ = _override_from_api(
            _api(context).call("DELETE", f"/api/v1/oncall/overrides/{override_id}")
        )
    else:
        with desk(ctx) as d:
            gone = remove_override(
                d.session, override_id, actor=current_actor(), now=d.now
            )
    emit(plain(gone), as_json, lambda: console.print(f"Override #{gone.id} removed."))


@member_app.command("add")
def member_add(
    ctx: typer.Context,
    person: str = typer.Argument(..., help="The person's handle."),
    position: int = typer.Option(
        None, "--position", help="Place in the order, 0 first (default: last)."
    ),
    schedule: str = ScheduleOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a member; whoever is on call now stays on call."""
    from mgops.cli.oncall_render import plain
    from mgops.oncall.service import add_member

    with desk(ctx) as d:
        change = add_member(
            d.session,
            schedule,
            person,
            at=d.now,
            actor=current_actor(),
            position=position,
        )
    emit(plain(change), as_json, lambda: console.print(change.note))


@member_app.command("remove")
def member_remove(
    ctx: typer.Context,
    person: str = typer.Argument(..., help="The person's handle."),
    schedule: str = ScheduleOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Skip the confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Remove a member; removing the person on call hands over at once."""
    from mgops.cli.oncall_render import plain
    from mgops.oncall.service import remove_member, who_is_on_call

    with desk(ctx) as d:
        current = who_is_on_call(d.session, schedule, d.now)
        if current.primary == person and not current.via_override:
            confirm_typed(
                person,
                what=f"{person} is on call now; removing them hands over at once.",
                yes=yes,
            )
        change = remove_member(
            d.session, schedule, person, at=d.now, actor=current_actor()
        )
    emit(plain(change), as_json, lambda: console.print(change.note))


@member_app.command("list")
def member_list(
    ctx: typer.Context, schedule: str = ScheduleOption, as_json: bool = JsonOption
) -> None:
    """The rotation's order and the history of membership changes."""
    from mgops.cli.oncall_render import local, plain
    from mgops.oncall.service import membership_history

    with desk(ctx) as d:
        history = membership_history(d.session, schedule)
        zone = d.zone(history[0].schedule)

    def render() -> None:
        console.print(f"Order: {', '.join(history[-1].members)}")
        table(
            "Membership changes",
            ["#", "effective", "change", "by", "record"],
            [
                (c.seq, local(c.effective_at, zone), c.change, c.actor, c.note)
                for c in history
            ],
        )

    emit({"members": history[-1].members, "history": plain(history)}, as_json, render)


@handoff_app.callback(invoke_without_command=True)
def handoff_default(ctx: typer.Context) -> None:
    """With no subcommand: show the running hand-off."""
    if ctx.invoked_subcommand is None:
        _show_handoff(ctx, None, False, _summary_of)


@handoff_app.command("show")
def handoff_show(
    ctx: typer.Context, schedule: str = ScheduleOption, as_json: bool = JsonOption
) -> None:
    """The summary for the incoming engineer and the checklist."""
    _show_handoff(ctx, schedule, as_json, _summary_of)


@handoff_app.command("ack")
def handoff_ack(
    ctx: typer.Context,
    person: str = typer.Option(
        None, "--as", help="The incoming engineer's handle (default: you)."
    ),
    schedule: str = ScheduleOption,
    as_json: bool = JsonOption,
) -> None:
    """The incoming engineer acknowledges the hand-off."""
    from mgops.oncall.handoff import acknowledge_handoff

    def act(d: Desk, name: str | None) -> Any:
        return acknowledge_handoff(
            d.session,
            name,
            person=person or current_actor(),
            now=d.now,
            policy=d.app.policy,
        )

    _show_handoff(ctx, schedule, as_json, act)


@handoff_app.command("tick")
def handoff_tick(
    ctx: typer.Context,
    item: str = typer.Argument(..., help="Checklist item id (verify-access, …)."),
    note: str = typer.Option(None, "--note", help="A note for the record."),
    person: str = typer.Option(None, "--as", help="Who ticks (default: you)."),
    schedule: str = ScheduleOption,
    as_json: bool = JsonOption,
) -> None:
    """Tick an item of the hand-off checklist (who and when are recorded)."""
    from mgops.oncall.handoff import tick_handoff_item

    def act(d: Desk, name: str | None) -> Any:
        return tick_handoff_item(
            d.session,
            name,
            item,
            actor=person or current_actor(),
            now=d.now,
            note=note,
            policy=d.app.policy,
        )

    _show_handoff(ctx, schedule, as_json, act)


def _summary_of(d: Desk, name: str | None) -> Any:
    from mgops.oncall.handoff import handoff_summary
    from mgops.oncall.pages import pages_in_shift

    return handoff_summary(
        d.session, name, now=d.now, policy=d.app.policy, pages_in_shift=pages_in_shift
    )


def _show_handoff(
    ctx: typer.Context, schedule: str | None, as_json: bool, act: Any
) -> None:
    from mgops.cli.oncall_render import plain

    with desk(ctx) as d:
        summary = act(d, schedule)
        zone = d.zone(summary.schedule)
    if as_json:
        print_json(plain(summary))
        return
    _render_handoff(summary, zone)


def _render_handoff(summary: Any, zone: ZoneInfo) -> None:
    from mgops.cli.oncall_render import local

    console.print(
        f"[bold]Hand-off of {summary.schedule}[/bold] at "
        f"{local(summary.handoff_at, zone)}: {summary.outgoing or '-'} → "
        f"[bold]{summary.incoming}[/bold] "
        f"(shift until {local(summary.shift_end, zone)})"
    )
    ack = (
        f"acknowledged by {summary.acknowledged_by} at "
        f"{local(summary.acknowledged_at, zone)}"
        if summary.acknowledged_at
        else "[yellow]not acknowledged yet[/yellow] (mgops oncall handoff ack)"
    )
    console.print(ack)
    incident_columns = ["id", "sev", "phase", "declared", "title"]

    def rows(items: list[Any]) -> list[tuple[Any, ...]]:
        return [
            (i.id, i.severity, i.phase, local(i.declared_at, zone), i.title)
            for i in items
        ]

    table(
        "Incidents of the past shift",
        incident_columns,
        rows(summary.incidents),
        empty="No incidents declared in the past shift.",
    )
    table(
        "Open incidents",
        incident_columns,
        rows(summary.open_incidents),
        empty="No open incidents.",
    )
    if summary.pages is None:
        console.print("[dim]Pages: not recorded by this installation yet.[/dim]")
    else:
        console.print(f"Pages in the past shift: {len(summary.pages)}")
    table(
        "Upcoming overrides",
        ["id", "who", "covers", "from", "to"],
        [
            (
                o.id,
                o.person,
                o.covers or "(anyone)",
                local(o.starts_at, zone),
                local(o.ends_at, zone),
            )
            for o in summary.upcoming_overrides
        ],
        empty="No upcoming overrides.",
    )
    table(
        "Hand-off checklist",
        ["", "item", "text", "by", "at"],
        [
            (
                "✔" if line.ticked_at else "☐",
                line.id,
                line.text,
                line.ticked_by or "",
                local(line.ticked_at, zone) if line.ticked_at else "",
            )
            for line in summary.checklist
        ],
    )
