"""On-call over HTTP: who is on call (``/api/v1/oncall``) and the iCalendar feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from mgops.oncall.ical import feed_text
from mgops.oncall.requests import OverrideIn
from mgops.oncall.rotation import zone_named
from mgops.oncall.service import (
    OverrideView,
    add_override,
    ensure_seeded,
    instant_named,
    list_overrides,
    remove_override,
    schedule_row,
    who_answers,
)
from mgops.web.api.errors import ERROR_RESPONSES
from mgops.web.deps import Responder, State, Viewer

router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"], responses=ERROR_RESPONSES)
ScheduleName = Annotated[
    str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]


class HandoffView(BaseModel):
    at: datetime
    shift: int
    outgoing: str | None
    incoming: str | None
    shift_end: datetime


class OnCallView(BaseModel):
    schedule: str
    timezone: str
    at: datetime
    primary: str | None
    secondary: str | None
    shift_start: datetime
    shift_end: datetime
    via_override: bool
    override_id: int | None
    covering: str | None
    next_handoff: HandoffView


@router.get("", response_model=list[OnCallView])
def who_is_on_call(
    state: State,
    who: Viewer,
    schedule: Annotated[str | None, Query(max_length=80)] = None,
    at: Annotated[
        str | None,
        Query(
            max_length=64,
            description="ISO 8601; without an offset, read in each schedule's zone",
        ),
    ] = None,
) -> list[OnCallView]:
    """Primary and secondary on every schedule (or one), now or at ``at``."""
    now = state.clock.now()
    with state.store.session() as session:
        ensure_seeded(session, state.policy, now=now)
        answers = who_answers(session, schedule, at, now=now)
    return [
        OnCallView(
            schedule=a.oncall.schedule,
            timezone=a.timezone,
            at=a.oncall.at,
            primary=a.oncall.primary,
            secondary=a.oncall.secondary,
            shift_start=a.oncall.shift_start,
            shift_end=a.oncall.shift_end,
            via_override=a.oncall.via_override,
            override_id=a.oncall.override_id,
            covering=a.oncall.covering,
            next_handoff=HandoffView(
                at=a.next_handoff.at,
                shift=a.next_handoff.shift,
                outgoing=a.next_handoff.outgoing,
                incoming=a.next_handoff.incoming,
                shift_end=a.next_handoff.shift_end,
            ),
        )
        for a in answers
    ]


@router.get("/overrides", response_model=list[OverrideView])
def overrides(
    state: State,
    who: Viewer,
    schedule: Annotated[str | None, Query(max_length=80)] = None,
    include_past: Annotated[bool, Query(alias="all")] = False,
) -> list[OverrideView]:
    """Overrides not over yet (``?all=true``: every one on record)."""
    now = state.clock.now()
    with state.store.session() as session:
        ensure_seeded(session, state.policy, now=now)
        return list_overrides(session, schedule, now=now, include_past=include_past)


@router.post("/overrides", response_model=OverrideView, status_code=201)
def create_override(body: OverrideIn, state: State, who: Responder) -> OverrideView:
    """Y covers X (``covers``) or Y is on call for the window."""
    now = state.clock.now()
    with state.store.session() as session:
        ensure_seeded(session, state.policy, now=now)
        row = schedule_row(session, body.schedule)
        zone = zone_named(row.timezone)
        return add_override(
            session,
            row.name,
            person=body.person,
            covers=body.covers,
            starts_at=instant_named(body.starts_at, zone, now=now),
            ends_at=instant_named(body.ends_at, zone, now=now),
            reason=body.reason,
            actor=who.name,
            now=now,
        )


@router.delete("/overrides/{override_id}", response_model=OverrideView)
def delete_override(
    override_id: Annotated[int, Path(ge=1, le=2**62)], state: State, who: Responder
) -> OverrideView:
    """Cancel an override; one already running ends now."""
    with state.store.session() as session:
        return remove_override(
            session, override_id, actor=who.name, now=state.clock.now()
        )


@router.get(
    "/{schedule}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def calendar(
    schedule: ScheduleName,
    state: State,
    who: Viewer,
    person: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Shifts from four weeks back to 90 days ahead (``?person=`` for one person)."""
    now = state.clock.now()
    with state.store.session() as session:
        ensure_seeded(session, state.policy, now=now)
        text = feed_text(session, schedule, now=now, person=person)
    return Response(
        text,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{schedule}.ics"'},
    )
