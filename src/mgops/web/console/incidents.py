"""The incident board and the incident page, over the same desk as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from mgops.errors import InputError, MgopsError
from mgops.incidents.comms import KINDS
from mgops.incidents.desk import LocalDesk
from mgops.incidents.lifecycle import DeskEnv
from mgops.incidents.preview import preview_status_update
from mgops.incidents.requests import (
    CloseRequest,
    DeclareRequest,
    NoteRequest,
    OwnerRequest,
    PhaseRequest,
    ResolveRequest,
    SeverityRequest,
    StatusUpdateRequest,
    TickRequest,
)
from mgops.incidents.views import CommsView, IncidentView
from mgops.oncall import pages as paging
from mgops.policy.schema import PHASES, STATUS_STATES
from mgops.web.console.base import (
    ConsoleState,
    Form,
    User,
    Writer,
    act,
    back,
    render,
    text_field,
)
from mgops.web.deps import desk_for

router = APIRouter(include_in_schema=False)
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ItemId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[a-z0-9-]+$")]
SEVERITY_ORDER = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}


def _parse(model: type[Any], **fields: Any) -> Any:
    """A request model from form text; its validation message as an InputError."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "form"
        raise InputError(f"{where.replace('_', ' ')}: {first['msg']}.") from None


@router.get("/", response_class=HTMLResponse)
def board(request: Request, state: ConsoleState, who: User) -> Response:
    open_incidents = desk_for(state, who).list(open_only=True)
    open_incidents.sort(key=lambda i: (SEVERITY_ORDER[i.severity], i.declared_at))
    return render(
        request,
        "board.html",
        {
            "incidents": open_incidents,
            "refresh": 60,
            "severities": state.policy.severities,
            "services": state.policy.services,
        },
    )


@router.post("/incidents")
def declare(request: Request, state: ConsoleState, who: Writer, form: Form) -> Response:
    desk = desk_for(state, who)
    pct = text_field(form, "users_affected_pct")
    try:
        req = _parse(
            DeclareRequest,
            title=text_field(form, "title"),
            severity=text_field(form, "severity"),
            impact=text_field(form, "impact"),
            services=[s for s in form.getlist("services") if isinstance(s, str)],
            customer_facing=form.get("customer_facing") == "on",
            users_affected_pct=float(pct) if pct else None,
            page=form.get("page") == "on",
        )
        view = desk.declare(req)
    except ValueError:
        return back(request, "/", "Users affected is a percentage.", kind="error")
    except MgopsError as exc:
        return back(request, "/", str(exc), kind="error")
    return back(request, f"/incidents/{view.id}", f"Incident {view.id} declared.")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    incident_id: IncidentId, request: Request, state: ConsoleState, who: User
) -> Response:
    desk = desk_for(state, who)
    view = desk.show(incident_id)
    with state.store.session() as session:
        env = DeskEnv(session, state.policy, state.clock, who.name)
        pages = paging.list_pages(env, incident_id=incident_id)
    index = PHASES.index(view.phase)
    return render(
        request,
        "incident.html",
        {
            "incident": view,
            "comms": _comms(desk, view),
            "pages": pages,
            "next_phase": PHASES[index + 1] if index + 1 < len(PHASES) else None,
            "severities": state.policy.severities,
            "status_states": STATUS_STATES,
            "cadence": state.policy.severity(view.severity).status_update_minutes,
        },
    )


def _comms(desk: LocalDesk, view: IncidentView) -> list[CommsView]:
    ready = []
    for kind in KINDS:
        try:
            ready.append(desk.comms(view.id, kind))
        except MgopsError:
            continue  # not yet possible: no update posted, or not resolved
    return ready


@router.post("/incidents/{incident_id}/checklist/{item}")
def tick(
    incident_id: IncidentId,
    item: ItemId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    desk = desk_for(state, who)
    to = f"/incidents/{incident_id}#checklist"
    if form.get("ticked") == "false":
        return act(
            request, to, f"{item} unticked.", lambda: desk.untick(incident_id, item)
        )
    return act(
        request,
        to,
        f"{item} ticked.",
        lambda: desk.tick(incident_id, item, TickRequest()),
    )


@router.post("/incidents/{incident_id}/updates")
def post_update(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    desk = desk_for(state, who)
    minutes = text_field(form, "next_update_in_minutes")

    def change() -> None:
        req = _parse(
            StatusUpdateRequest,
            state=text_field(form, "state"),
            what_we_know=text_field(form, "what_we_know"),
            what_we_are_doing=text_field(form, "what_we_are_doing"),
            next_update_in_minutes=int(minutes) if minutes.isdigit() else None,
            public=form.get("public") == "on",
        )
        desk.post_update(incident_id, req)

    return act(
        request, f"/incidents/{incident_id}#update", "Status update posted.", change
    )


@router.post("/incidents/{incident_id}/updates/preview")
def preview_update(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: User,
    form: Form,
) -> Response:
    """The message the form would post, rendered by the policy's template."""
    minutes = text_field(form, "next_update_in_minutes")
    with state.store.session() as session:
        env = DeskEnv(session, state.policy, state.clock, who.name)
        view = preview_status_update(
            env,
            incident_id,
            state=text_field(form, "state"),
            what_we_know=text_field(form, "what_we_know"),
            what_we_are_doing=text_field(form, "what_we_are_doing"),
            next_update_in_minutes=int(minutes) if minutes.isdigit() else None,
        )
        session.rollback()
    return JSONResponse({"ok": True, "text": view.text})


@router.post("/incidents/{incident_id}/severity")
def set_severity(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    desk = desk_for(state, who)

    def change() -> None:
        req = _parse(
            SeverityRequest,
            severity=text_field(form, "severity"),
            reason=text_field(form, "reason"),
        )
        desk.set_severity(incident_id, req)

    return act(request, f"/incidents/{incident_id}", "Severity changed.", change)


@router.post("/incidents/{incident_id}/owner")
def assign(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    desk = desk_for(state, who)

    def change() -> None:
        desk.assign(incident_id, _parse(OwnerRequest, owner=text_field(form, "owner")))

    return act(request, f"/incidents/{incident_id}", "Owner assigned.", change)


@router.post("/incidents/{incident_id}/phase")
def move(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    desk = desk_for(state, who)
    target = text_field(form, "to")

    def change() -> None:
        req = _parse(
            PhaseRequest,
            to=target or None,
            force=form.get("force") == "on",
            reason=text_field(form, "reason") or None,
        )
        desk.move(incident_id, req)

    return act(request, f"/incidents/{incident_id}", f"Moved to {target}.", change)


@router.post("/incidents/{incident_id}/resolve")
def resolve(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    desk = desk_for(state, who)

    def change() -> None:
        req = _parse(
            ResolveRequest,
            root_cause=text_field(form, "root_cause") or None,
            resolution=text_field(form, "resolution") or None,
            force=form.get("force") == "on",
        )
        desk.resolve(incident_id, req)

    return act(request, f"/incidents/{incident_id}", "Incident resolved.", change)


@router.post("/incidents/{incident_id}/close")
def close(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    desk = desk_for(state, who)
    req = CloseRequest(force=form.get("force") == "on")
    return act(
        request,
        f"/incidents/{incident_id}",
        "Incident closed.",
        lambda: desk.close(incident_id, req),
    )


@router.post("/incidents/{incident_id}/notes")
def note(
    incident_id: IncidentId,
    request: Request,
    state: ConsoleState,
    who: Writer,
    form: Form,
) -> Response:
    desk = desk_for(state, who)

    def change() -> None:
        req = _parse(
            NoteRequest,
            text=text_field(form, "text"),
            action_item=form.get("action_item") == "on",
        )
        desk.note(incident_id, req)

    return act(request, f"/incidents/{incident_id}#timeline", "Note added.", change)


@router.get("/incidents/{incident_id}/postmortem", response_class=HTMLResponse)
def postmortem(
    incident_id: IncidentId, request: Request, state: ConsoleState, who: User
) -> Response:
    desk = desk_for(state, who)
    view = desk.show(incident_id)
    draft = desk.postmortem(incident_id)
    return render(request, "postmortem.html", {"incident": view, "draft": draft})
