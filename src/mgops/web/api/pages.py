"""``/api/v1/pages``: pages, acknowledgement (by token or signed link), escalation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from mgops.errors import Unauthorized
from mgops.incidents.lifecycle import DeskEnv
from mgops.notify.links import LinkSigner, server_secret
from mgops.oncall import pages as core
from mgops.oncall.pages import PageView
from mgops.web.api.errors import ERROR_RESPONSES
from mgops.web.deps import Responder, State, Viewer

router = APIRouter(tags=["paging"], responses=ERROR_RESPONSES)
PageId = Annotated[int, Path(ge=1, le=2**31 - 1)]
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class EscalateRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    level: int | None = Field(None, ge=1, le=5)


class TestPageRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    person: str = Field(min_length=1, max_length=100)


@router.get("/api/v1/pages", response_model=list[PageView])
def pages(
    state: State,
    who: Viewer,
    open: bool = False,
    incident: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    person: Annotated[str | None, Query(max_length=100)] = None,
) -> list[PageView]:
    with state.store.session() as session:
        env = DeskEnv(session, state.policy, state.clock, who.name)
        return core.list_pages(env, open_only=open, incident_id=incident, person=person)


@router.get("/api/v1/pages/{page_id}", response_model=PageView)
def page(page_id: PageId, state: State, who: Viewer) -> PageView:
    with state.store.session() as session:
        return core.show_page(
            DeskEnv(session, state.policy, state.clock, who.name), page_id
        )


@router.post("/api/v1/pages/{page_id}/ack", response_model=PageView)
def acknowledge(page_id: PageId, state: State, who: Responder) -> PageView:
    with state.store.session() as session:
        return core.ack(DeskEnv(session, state.policy, state.clock, who.name), page_id)


@router.post("/api/v1/incidents/{incident_id}/escalate", response_model=list[PageView])
def escalate(
    incident_id: IncidentId, body: EscalateRequest, state: State, who: Responder
) -> list[PageView]:
    with state.store.session() as session:
        env = DeskEnv(session, state.policy, state.clock, who.name)
        return core.escalate(env, incident_id, body.level)


@router.post("/api/v1/paging/test", status_code=201, response_model=PageView)
def test_page(body: TestPageRequest, state: State, who: Responder) -> PageView:
    with state.store.session() as session:
        env = DeskEnv(session, state.policy, state.clock, who.name)
        return core.test_page(env, body.person)


def _signer(state: State, request: Request) -> LinkSigner:
    return LinkSigner(server_secret(state.store), str(request.base_url))


_CONFIRM = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acknowledge page {page_id}</title></head><body>
<main><h1>Acknowledge page {page_id}?</h1>
<form method="post"><button type="submit">Acknowledge</button></form></main>
</body></html>"""


@router.get("/ack/{page_id}", response_class=HTMLResponse, include_in_schema=False)
def ack_link(
    page_id: PageId, exp: int, sig: str, state: State, request: Request
) -> HTMLResponse:
    # A GET only asks: previews and mail scanners fetch links, they must not ack.
    if not _signer(state, request).check(page_id, exp, sig):
        raise Unauthorized("This acknowledgement link is invalid or has expired.")
    return HTMLResponse(_CONFIRM.format(page_id=page_id))


@router.post("/ack/{page_id}", response_class=HTMLResponse, include_in_schema=False)
def ack_link_post(
    page_id: PageId, exp: int, sig: str, state: State, request: Request
) -> HTMLResponse:
    if not _signer(state, request).check(page_id, exp, sig):
        raise Unauthorized("This acknowledgement link is invalid or has expired.")
    with state.store.session() as session:
        env = DeskEnv(session, state.policy, state.clock, "ack-link")
        view = core.ack(env, page_id)
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Acknowledged</title></head><body><main><h1>Page "
        f"{view.id} acknowledged</h1></main></body></html>"
    )
