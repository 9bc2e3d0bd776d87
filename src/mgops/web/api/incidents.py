"""``/api/v1/incidents``: the desk over HTTP. Routes validate, call the desk, return."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

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
from mgops.incidents.views import (
    CommsView,
    IncidentSummary,
    IncidentView,
    PostmortemView,
    StatusUpdateView,
)
from mgops.web.api.errors import ERROR_RESPONSES
from mgops.web.deps import Responder, State, Viewer, desk_for
from mgops.web.metrics import INCIDENTS

router = APIRouter(
    prefix="/api/v1/incidents", tags=["incidents"], responses=ERROR_RESPONSES
)

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ItemId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[a-z0-9-]+$")]
Phase = Literal["DETECT", "TRIAGE", "RESPOND", "RESOLVE", "REVIEW"]
Severity = Literal["P1", "P2", "P3", "P4"]
CommsKind = Literal["declaration", "status-update", "resolved", "customer-email"]


@router.post("", status_code=201, response_model=IncidentView)
def declare(body: DeclareRequest, state: State, who: Responder) -> IncidentView:
    view = desk_for(state, who).declare(body)
    state.wake.set()
    INCIDENTS.labels(view.severity, "manual").inc()
    return view


@router.get("", response_model=list[IncidentSummary])
def list_incidents(
    state: State,
    who: Viewer,
    phase: Phase | None = None,
    severity: Severity | None = None,
    open: Annotated[bool, Query(description="Only unresolved incidents")] = False,
) -> list[IncidentSummary]:
    return desk_for(state, who).list(phase=phase, severity=severity, open_only=open)


@router.get("/{incident_id}", response_model=IncidentView)
def show(incident_id: IncidentId, state: State, who: Viewer) -> IncidentView:
    return desk_for(state, who).show(incident_id)


@router.patch("/{incident_id}", response_model=IncidentView)
def edit(
    incident_id: IncidentId, body: EditRequest, state: State, who: Responder
) -> IncidentView:
    return desk_for(state, who).edit(incident_id, body)


@router.post("/{incident_id}/owner", response_model=IncidentView)
def assign(
    incident_id: IncidentId, body: OwnerRequest, state: State, who: Responder
) -> IncidentView:
    return desk_for(state, who).assign(incident_id, body)


@router.post("/{incident_id}/severity", response_model=IncidentView)
def set_severity(
    incident_id: IncidentId, body: SeverityRequest, state: State, who: Responder
) -> IncidentView:
    return desk_for(state, who).set_severity(incident_id, body)


@router.post("/{incident_id}/checklist/{item}", response_model=IncidentView)
def tick(
    incident_id: IncidentId,
    item: ItemId,
    state: State,
    who: Responder,
    body: TickRequest | None = None,
) -> IncidentView:
    return desk_for(state, who).tick(incident_id, item, body or TickRequest())


@router.delete("/{incident_id}/checklist/{item}", response_model=IncidentView)
def untick(
    incident_id: IncidentId, item: ItemId, state: State, who: Responder
) -> IncidentView:
    return desk_for(state, who).untick(incident_id, item)


@router.post("/{incident_id}/phase", response_model=IncidentView)
def move(
    incident_id: IncidentId, body: PhaseRequest, state: State, who: Responder
) -> IncidentView:
    return desk_for(state, who).move(incident_id, body)


@router.post("/{incident_id}/resolve", response_model=IncidentView)
def resolve(
    incident_id: IncidentId, body: ResolveRequest, state: State, who: Responder
) -> IncidentView:
    return desk_for(state, who).resolve(incident_id, body)


@router.post("/{incident_id}/close", response_model=IncidentView)
def close(
    incident_id: IncidentId, body: CloseRequest, state: State, who: Responder
) -> IncidentView:
    return desk_for(state, who).close(incident_id, body)


@router.post("/{incident_id}/updates", status_code=201, response_model=StatusUpdateView)
def post_update(
    incident_id: IncidentId, body: StatusUpdateRequest, state: State, who: Responder
) -> StatusUpdateView:
    return desk_for(state, who).post_update(incident_id, body)


@router.post("/{incident_id}/notes", status_code=201, response_model=IncidentView)
def note(
    incident_id: IncidentId, body: NoteRequest, state: State, who: Responder
) -> IncidentView:
    return desk_for(state, who).note(incident_id, body)


@router.get("/{incident_id}/comms/{kind}", response_model=CommsView)
def comms(
    incident_id: IncidentId, kind: CommsKind, state: State, who: Viewer
) -> CommsView:
    return desk_for(state, who).comms(incident_id, kind)


@router.get("/{incident_id}/postmortem", response_model=PostmortemView)
def postmortem(incident_id: IncidentId, state: State, who: Viewer) -> PostmortemView:
    return desk_for(state, who).postmortem(incident_id)
