"""``/api/v1/alerts`` and ``/api/v1/actions``: alert groups, silences, the audit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from mgops.alerts.views import (
    AlertGroupView,
    get_group,
    group_view,
    list_groups,
    silence_group,
)
from mgops.audit import list_actions
from mgops.web.api.errors import ERROR_RESPONSES
from mgops.web.deps import Responder, State, Viewer

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=ERROR_RESPONSES)
GroupId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class SilenceRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    minutes: int = Field(ge=0, le=7 * 24 * 60)


class ActionView(BaseModel):
    id: int
    kind: str
    target: str
    actor: str
    params: dict[str, Any]
    dry_run: bool
    incident_id: int | None
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    result: dict[str, Any]
    error: str | None


@router.get("/alerts/groups", response_model=list[AlertGroupView])
def groups(state: State, who: Viewer, open: bool = False) -> list[AlertGroupView]:
    with state.store.session() as session:
        return list_groups(session, open_only=open)


@router.get("/alerts/groups/{group_id}", response_model=AlertGroupView)
def group(group_id: GroupId, state: State, who: Viewer) -> AlertGroupView:
    with state.store.session() as session:
        return group_view(get_group(session, group_id))


@router.post("/alerts/groups/{group_id}/silence", response_model=AlertGroupView)
def silence(
    group_id: GroupId, body: SilenceRequest, state: State, who: Responder
) -> AlertGroupView:
    with state.store.session() as session:
        return silence_group(
            session, group_id, minutes=body.minutes, now=state.clock.now()
        )


@router.get("/actions", response_model=list[ActionView])
def actions(
    state: State,
    who: Viewer,
    kind: Annotated[str | None, Query(max_length=60)] = None,
    incident: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    outcome: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ActionView]:
    rows = list_actions(
        state.store, kind=kind, incident_id=incident, outcome=outcome, limit=limit
    )
    return [ActionView.model_validate(r, from_attributes=True) for r in rows]
