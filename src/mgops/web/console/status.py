"""The public status page: ``/status`` for people, ``/status.json`` for scripts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mgops.incidents.public import PublicStatus, public_status
from mgops.web.console.base import ConsoleState, templates

router = APIRouter()


def _status(state: ConsoleState) -> PublicStatus:
    with state.store.session() as session:
        return public_status(session, state.policy, now=state.clock.now())


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, state: ConsoleState) -> Response:
    # Rendered without the console's context: nothing about the viewer leaks in.
    response = templates.TemplateResponse(
        request, "status.html", {"status": _status(state)}
    )
    response.headers["Cache-Control"] = "public, max-age=30"
    return response


@router.get("/status.json", response_model=PublicStatus, tags=["status"])
def status_json(state: ConsoleState) -> PublicStatus:
    """Services, active public incidents with their public updates, history."""
    return _status(state)
