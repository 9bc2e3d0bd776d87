"""On-call: now and next, the schedule as a calendar, overrides, pages, hand-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mgops.errors import InputError, MgopsError
from mgops.incidents.lifecycle import DeskEnv
from mgops.oncall import next_handoff, schedule_timeline, who_is_on_call
from mgops.oncall import pages as paging
from mgops.oncall.handoff import handoff_summary
from mgops.oncall.pages import pages_in_shift
from mgops.oncall.people import list_people
from mgops.oncall.rotation import parse_when, zone_named
from mgops.oncall.service import (
    add_override,
    ensure_seeded,
    list_overrides,
    schedule_names,
    schedule_row,
)
from mgops.web.console.base import (
    ConsoleState,
    Form,
    User,
    Writer,
    act,
    render,
    text_field,
)

router = APIRouter(include_in_schema=False)
PageId = Annotated[int, Path(ge=1, le=2**31 - 1)]
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CALENDAR_DAYS = 28


@dataclass
class CalendarDay:
    day: datetime
    segments: list[Any]


def _calendar(session: Session, name: str, now: datetime) -> list[CalendarDay]:
    """Each day of the next four weeks with the stretches that touch it."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    segments = schedule_timeline(
        session, name, start, start + timedelta(days=CALENDAR_DAYS)
    )
    days = []
    for offset in range(CALENDAR_DAYS):
        lo = start + timedelta(days=offset)
        hi = lo + timedelta(days=1)
        days.append(
            CalendarDay(lo, [s for s in segments if s.start < hi and s.end > lo])
        )
    return days


def _schedule(session: Session, name: str, now: datetime) -> dict[str, Any]:
    try:
        handoff = handoff_summary(session, name, now=now, pages_in_shift=pages_in_shift)
    except MgopsError:
        handoff = None  # the rotation has not started yet
    return {
        "name": name,
        "now": who_is_on_call(session, name, now),
        "next": next_handoff(session, name, now),
        "calendar": _calendar(session, name, now),
        "overrides": list_overrides(session, name, now=now),
        "handoff": handoff,
        "timezone": schedule_row(session, name).timezone,
    }


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, state: ConsoleState, who: User) -> Response:
    now = state.clock.now()
    with state.store.session() as session:
        ensure_seeded(session, state.policy, now=now)
        schedules = [_schedule(session, n, now) for n in schedule_names(session)]
        people = list_people(session)
        env = DeskEnv(session, state.policy, state.clock, who.name)
        pages = paging.list_pages(env, limit=50)
    return render(
        request,
        "oncall.html",
        {"schedules": schedules, "people": people, "pages": pages, "now": now},
    )


@router.post("/oncall/overrides")
def override(
    request: Request, state: ConsoleState, who: Writer, form: Form
) -> Response:
    name = text_field(form, "schedule") or None

    def change() -> None:
        with state.store.session() as session:
            zone = zone_named(schedule_row(session, name).timezone)
            starts, ends = text_field(form, "starts_at"), text_field(form, "ends_at")
            if not starts or not ends:
                raise InputError("An override needs a start and an end.")
            add_override(
                session,
                name,
                person=text_field(form, "person"),
                covers=text_field(form, "covers") or None,
                starts_at=parse_when(starts, zone),
                ends_at=parse_when(ends, zone),
                reason=text_field(form, "reason"),
                actor=who.name,
                now=state.clock.now(),
            )

    return act(request, "/oncall#overrides", "Override added.", change)


@router.post("/pages/{page_id}/ack")
def acknowledge(
    page_id: PageId, request: Request, state: ConsoleState, who: Writer, form: Form
) -> Response:
    to = text_field(form, "back") or "/oncall#pages"
    if not to.startswith("/") or to.startswith("//"):
        to = "/oncall#pages"

    def change() -> None:
        with state.store.session() as session:
            paging.ack(DeskEnv(session, state.policy, state.clock, who.name), page_id)

    return act(request, to, f"Page {page_id} acknowledged.", change)


@router.post("/incidents/{incident_id}/escalate")
def escalate(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    level = text_field(form, "level")

    def change() -> None:
        with state.store.session() as session:
            env = DeskEnv(session, state.policy, state.clock, who.name)
            paging.escalate(env, incident_id, int(level) if level.isdigit() else None)

    return act(request, "/oncall#pages", f"Incident {incident_id} escalated.", change)
