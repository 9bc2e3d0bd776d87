"""``mgops page …`` and ``mgops worker``: pages, acknowledgement, escalation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, console, emit, table

if TYPE_CHECKING:
    from mgops.incidents.lifecycle import DeskEnv
    from mgops.oncall.pages import PageView

app = typer.Typer(
    help="Pages: list, acknowledge, escalate, test.", no_args_is_help=True
)
T = TypeVar("T")


@contextmanager
def _env(ctx: typer.Context) -> Iterator[DeskEnv]:
    from mgops.config import current_actor
    from mgops.incidents.lifecycle import DeskEnv

    app_ctx = app_context(ctx)
    with app_ctx.store.session() as session:
        yield DeskEnv(session, app_ctx.policy, app_ctx.clock, current_actor())


def _call(
    ctx: typer.Context,
    local: Callable[[DeskEnv], T],
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """Run ``local`` on the store, or the same operation on the server."""
    app_ctx = app_context(ctx)
    if app_ctx.server:
        from mgops.incidents.desk import ApiClient

        client = ApiClient(app_ctx.server, app_ctx.token)
        return client.call(method, path, body, params)
    with _env(ctx) as env:
        return local(env)


def _views(data: Any) -> list[PageView]:
    from pydantic import TypeAdapter

    from mgops.oncall.pages import PageView

    if isinstance(data, list):
        return TypeAdapter(list[PageView]).validate_python(
            [d if isinstance(d, dict) else d.model_dump() for d in data]
        )
    return [
        PageView.model_validate(data if isinstance(data, dict) else data.model_dump())
    ]


def _render(pages: list[PageView]) -> None:
    table(
        "Pages",
        [
            "#",
            "incident",
            "person",
            "level",
            "mode",
            "status",
            "ack by (UTC)",
            "messages",
        ],
        [
            (
                p.id,
                p.incident_id or "test",
                p.person,
                p.level,
                p.mode,
                p.status,
                f"{p.ack_deadline:%H:%M:%S}" if p.ack_deadline else "—",
                ", ".join(f"{n.channel}:{n.status}" for n in p.notifications) or "—",
            )
            for p in pages
        ],
        empty="No pages.",
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    open_only: bool = typer.Option(False, "--open"),
    incident: int = typer.Option(None, "--incident"),
    person: str = typer.Option(None, "--person"),
    as_json: bool = JsonOption,
) -> None:
    """Pages, newest first."""
    from mgops.oncall.pages import list_pages

    data = _call(
        ctx,
        lambda env: list_pages(
            env, open_only=open_only, incident_id=incident, person=person
        ),
        "GET",
        "/api/v1/pages",
        params={"open": open_only, "incident": incident, "person": person},
    )
    pages = _views(data)
    emit(pages, as_json, lambda: _render(pages))


@app.command("show")
def show(ctx: typer.Context, page_id: int, as_json: bool = JsonOption) -> None:
    """One page with its notifications."""
    from mgops.oncall.pages import show_page

    pages = _views(
        _call(
            ctx, lambda env: show_page(env, page_id), "GET", f"/api/v1/pages/{page_id}"
        )
    )
    emit(pages[0], as_json, lambda: _render(pages))


@app.command("ack")
def ack(ctx: typer.Context, page_id: int, as_json: bool = JsonOption) -> None:
    """Acknowledge a page: every pending step and escalation of it stops."""
    from mgops.oncall.pages import ack as ack_page

    pages = _views(
        _call(
            ctx,
            lambda env: ack_page(env, page_id),
            "POST",
            f"/api/v1/pages/{page_id}/ack",
        )
    )
    emit(
        pages[0],
        as_json,
        lambda: console.print(
            f"Page {page_id} acknowledged by {pages[0].acknowledged_by}."
        ),
    )


@app.command("escalate")
def escalate(
    ctx: typer.Context,
    incident_id: int,
    level: int = typer.Option(None, "--level", help="1-5; default the next."),
    as_json: bool = JsonOption,
) -> None:
    """Escalate an incident by hand (runbook 4.3)."""
    from mgops.oncall.pages import escalate as escalate_incident
    from mgops.web.api.pages import EscalateRequest

    pages = _views(
        _call(
            ctx,
            lambda env: escalate_incident(env, incident_id, level),
            "POST",
            f"/api/v1/incidents/{incident_id}/escalate",
            EscalateRequest(level=level),
        )
    )
    emit(pages, as_json, lambda: _render(pages))


@app.command("test")
def send_test_page(
    ctx: typer.Context,
    person: str = typer.Argument(..., help="Handle."),
    as_json: bool = JsonOption,
) -> None:
    """Send a test page (the hand-off checklist's "test paging")."""
    from mgops.oncall.pages import test_page
    from mgops.web.api.pages import TestPageRequest

    pages = _views(
        _call(
            ctx,
            lambda env: test_page(env, person),
            "POST",
            "/api/v1/paging/test",
            TestPageRequest(person=person),
        )
    )
    emit(
        pages[0],
        as_json,
        lambda: console.print(
            f"Test page {pages[0].id} queued for {person}; the worker delivers it."
        ),
    )


@app.command("rule")
def rule(
    ctx: typer.Context,
    person: str,
    steps: list[str] = typer.Argument(
        None, help="contact:seconds, e.g. slack:0 sms:60 phone:120"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show or set a person's notification rule."""
    from mgops.errors import InputError
    from mgops.oncall.paging import notification_steps, set_notification_rule

    app_context(ctx).require_local("Notification rules")
    parsed = []
    for step in steps or []:
        kind, _, after = step.partition(":")
        if not after.isdigit():
            raise InputError(f"Step {step!r} is not contact:seconds (e.g. sms:60).")
        parsed.append((kind, int(after)))
    with _env(ctx) as env:
        if parsed:
            set_notification_rule(env.session, person, parsed)
            env.session.flush()
        current = notification_steps(env.session, env.policy, person)
    result = [{"contact": k, "after_seconds": s} for k, s in current]
    emit(
        result,
        as_json,
        lambda: table(
            f"Notification rule of {person}",
            ["step", "contact", "after"],
            [(i, k, f"{s}s") for i, (k, s) in enumerate(current)],
        ),
    )


def worker(
    ctx: typer.Context,
    interval: float = typer.Option(1.0, "--interval", help="Seconds between ticks."),
    once: bool = typer.Option(False, "--once", help="One tick, then exit."),
    batch: int = typer.Option(200, "--batch", help="Timers claimed per tick."),
) -> None:
    """Fire due escalations and reminders, deliver notifications (runs in serve too)."""
    import signal
    import threading

    from mgops import jsonlog
    from mgops.worker import make_worker

    app_ctx = app_context(ctx)
    jsonlog.configure("INFO")
    runner = make_worker(app_ctx.store, app_ctx.policy, app_ctx.clock)
    runner.batch = batch
    if once:
        report = runner.tick()
        console.print(
            f"fired {report.fired}, reminded {report.reminded}, "
            f"sent {report.sent}, retried {report.retried}, "
            f"failed {report.failed}"
        )
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.run(stop, interval)
    except KeyboardInterrupt:
        stop.set()
