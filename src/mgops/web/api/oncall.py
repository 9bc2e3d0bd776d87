"""``/api/v1/oncall/{schedule}.ics``: the rotation as an iCalendar feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from mgops.oncall.ical import feed_text
from mgops.oncall.service import ensure_seeded
from mgops.web.api.errors import ERROR_RESPONSES
from mgops.web.deps import State, Viewer

router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"], responses=ERROR_RESPONSES)
ScheduleName = Annotated[
    str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]


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
