"""The incident desk as one object with two backings.

``LocalDesk`` opens a transaction on the store for each call and runs the core
functions; the REST API calls it too. ``RemoteDesk`` sends the same requests to
an mgops server, so ``mgops --server URL incident …`` behaves exactly like the
local command. Both return the same views.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from mgops import errors
from mgops.clock import Clock
from mgops.incidents import lifecycle as core
from mgops.incidents.comms import render_comms
from mgops.incidents.postmortem import postmortem_markdown
from mgops.incidents.present import incident_view, summary_view, update_view
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
from mgops.incidents.updates import post_status_update
from mgops.incidents.views import (
    CommsView,
    IncidentSummary,
    IncidentView,
    PostmortemView,
    StatusUpdateView,
)
from mgops.policy.schema import Policy
from mgops.store.db import Store

V = TypeVar("V", bound=BaseModel)


class Desk(Protocol):
    def declare(self, req: DeclareRequest) -> IncidentView: ...
    def list(
        self,
        *,
        phase: str | None = None,
        severity: str | None = None,
        open_only: bool = False,
    ) -> list[IncidentSummary]: ...
    def show(self, incident_id: int) -> IncidentView: ...
    def assign(self, incident_id: int, req: OwnerRequest) -> IncidentView: ...
    def set_severity(self, incident_id: int, req: SeverityRequest) -> IncidentView: ...
    def edit(self, incident_id: int, req: EditRequest) -> IncidentView: ...
    def tick(self, incident_id: int, item: str, req: TickRequest) -> IncidentView: ...
    def untick(self, incident_id: int, item: str) -> IncidentView: ...
    def move(self, incident_id: int, req: PhaseRequest) -> IncidentView: ...
    def resolve(self, incident_id: int, req: ResolveRequest) -> IncidentView: ...
    def close(self, incident_id: int, req: CloseRequest) -> IncidentView: ...
    def post_update(
        self, incident_id: int, req: StatusUpdateRequest
    ) -> StatusUpdateView: ...
    def note(self, incident_id: int, req: NoteRequest) -> IncidentView: ...
    def comms(self, incident_id: int, kind: str) -> CommsView: ...
    def postmortem(self, incident_id: int) -> PostmortemView: ...


class LocalDesk:
    def __init__(self, store: Store, policy: Policy, clock: Clock, actor: str) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.actor = actor

    @contextmanager
    def env(self) -> Iterator[core.DeskEnv]:
        with self.store.session() as session:
            yield core.DeskEnv(session, self.policy, self.clock, self.actor)

    def _view(self, env: core.DeskEnv, incident_id: int) -> IncidentView:
        env.session.flush()
        incident = core.get_incident(env, incident_id)
        env.session.refresh(incident)
        return incident_view(incident, self.policy, env.session, self.clock.now())

    def declare(self, req: DeclareRequest) -> IncidentView:
        with self.env() as env:
            fields = req.model_dump(exclude={"page"})
            incident = core.declare_incident(env, **fields)
            if req.page:
                from mgops.oncall.paging import page_for_incident

                page_for_incident(env, incident)
            return self._view(env, incident.id)

    def list(
        self,
        *,
        phase: str | None = None,
        severity: str | None = None,
        open_only: bool = False,
    ) -> list[IncidentSummary]:
        with self.env() as env:
            rows = core.list_incidents(
                env, phase=phase, severity=severity, open_only=open_only
            )
            now = self.clock.now()
            return [summary_view(r, self.policy, now) for r in rows]

    def show(self, incident_id: int) -> IncidentView:
        with self.env() as env:
            return self._view(env, incident_id)

    def assign(self, incident_id: int, req: OwnerRequest) -> IncidentView:
        with self.env() as env:
            core.assign_owner(env, incident_id, req.owner)
            return self._view(env, incident_id)

    def set_severity(self, incident_id: int, req: SeverityRequest) -> IncidentView:
        with self.env() as env:
            core.change_severity(env, incident_id, req.severity, reason=req.reason)
            return self._view(env, incident_id)

    def edit(self, incident_id: int, req: EditRequest) -> IncidentView:
        with self.env() as env:
            core.update_details(env, incident_id, **req.model_dump())
            return self._view(env, incident_id)

    def tick(self, incident_id: int, item: str, req: TickRequest) -> IncidentView:
        with self.env() as env:
            core.tick_item(env, incident_id, item, note=req.note)
            return self._view(env, incident_id)

    def untick(self, incident_id: int, item: str) -> IncidentView:
        with self.env() as env:
            core.untick_item(env, incident_id, item)
            return self._view(env, incident_id)

    def move(self, incident_id: int, req: PhaseRequest) -> IncidentView:
        with self.env() as env:
            core.move_to_phase(
                env, incident_id, req.to, force=req.force, reason=req.reason
            )
            return self._view(env, incident_id)

    def resolve(self, incident_id: int, req: ResolveRequest) -> IncidentView:
        with self.env() as env:
            core.resolve_incident(
                env,
                incident_id,
                root_cause=req.root_cause,
                resolution=req.resolution,
                force=req.force,
            )
            return self._view(env, incident_id)

    def close(self, incident_id: int, req: CloseRequest) -> IncidentView:
        with self.env() as env:
            core.close_incident(env, incident_id, force=req.force)
            return self._view(env, incident_id)

    def post_update(
        self, incident_id: int, req: StatusUpdateRequest
    ) -> StatusUpdateView:
        with self.env() as env:
            next_at = None
            if req.next_update_in_minutes is not None:
                next_at = self.clock.now() + timedelta(
                    minutes=req.next_update_in_minutes
                )
            update = post_status_update(
                env,
                incident_id,
                state=req.state,
                what_we_know=req.what_we_know,
                what_we_are_doing=req.what_we_are_doing,
                next_update_at=next_at,
                public=req.public,
            )
            env.session.flush()
            return update_view(update)

    def note(self, incident_id: int, req: NoteRequest) -> IncidentView:
        with self.env() as env:
            core.add_note(
                env,
                incident_id,
                req.text,
                kind="action-item" if req.action_item else "note",
            )
            return self._view(env, incident_id)

    def comms(self, incident_id: int, kind: str) -> CommsView:
        with self.env() as env:
            return render_comms(core.get_incident(env, incident_id), self.policy, kind)

    def postmortem(self, incident_id: int) -> PostmortemView:
        with self.env() as env:
            view = self._view(env, incident_id)
            return PostmortemView(
                incident_id=incident_id, markdown=postmortem_markdown(view, self.policy)
            )


_ERRORS_BY_CODE: dict[str, type[errors.MgopsError]] = {}
for _cls in (
    errors.InputError,
    errors.PolicyError,
    errors.NotFound,
    errors.Conflict,
    errors.ChecklistIncomplete,
    errors.ActionRefused,
    errors.ConfirmationRequired,
    errors.Unauthorized,
    errors.Forbidden,
    errors.TargetUnreachable,
    errors.TargetError,
    errors.ActionTimeout,
    errors.StoreError,
):
    _ERRORS_BY_CODE[_cls.code] = _cls


class ApiClient:
    """A thin REST client for an mgops server; server errors come back typed."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def call(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        try:
            response = self.http.request(
                method,
                path,
                params={
                    k: v for k, v in (params or {}).items() if v not in (None, False)
                },
                json=body.model_dump(mode="json", exclude_unset=True) if body else None,
            )
        except httpx.HTTPError as exc:
            raise errors.TargetUnreachable(
                f"The mgops server at {self.base_url} did not answer: {exc}."
            ) from None
        if response.status_code >= 400:
            raise _error_from(response)
        return response.json()


def _error_from(response: httpx.Response) -> errors.MgopsError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("error") if isinstance(body, dict) else None
    message = (body.get("message") if isinstance(body, dict) else None) or (
        f"The server answered {response.status_code}."
    )
    if response.status_code == 422 and code is None:
        return errors.InputError(f"The server rejected the request: {body}.")
    cls = _ERRORS_BY_CODE.get(code or "", errors.MgopsError)
    return cls(message, detail=body.get("detail") if isinstance(body, dict) else None)


class RemoteDesk:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def _get(
        self, adapter: type[V], method: str, path: str, body: BaseModel | None = None
    ) -> V:
        return adapter.model_validate(self.api.call(method, path, body))

    def declare(self, req: DeclareRequest) -> IncidentView:
        return self._get(IncidentView, "POST", "/api/v1/incidents", req)

    def list(
        self,
        *,
        phase: str | None = None,
        severity: str | None = None,
        open_only: bool = False,
    ) -> list[IncidentSummary]:
        data = self.api.call(
            "GET",
            "/api/v1/incidents",
            params={"phase": phase, "severity": severity, "open": open_only},
        )
        return TypeAdapter(list[IncidentSummary]).validate_python(data)

    def show(self, incident_id: int) -> IncidentView:
        return self._get(IncidentView, "GET", f"/api/v1/incidents/{incident_id}")

    def assign(self, incident_id: int, req: OwnerRequest) -> IncidentView:
        return self._get(
            IncidentView, "POST", f"/api/v1/incidents/{incident_id}/owner", req
        )

    def set_severity(self, incident_id: int, req: SeverityRequest) -> IncidentView:
        return self._get(
            IncidentView, "POST", f"/api/v1/incidents/{incident_id}/severity", req
        )

    def edit(self, incident_id: int, req: EditRequest) -> IncidentView:
        return self._get(IncidentView, "PATCH", f"/api/v1/incidents/{incident_id}", req)

    def tick(self, incident_id: int, item: str, req: TickRequest) -> IncidentView:
        return self._get(
            IncidentView,
            "POST",
            f"/api/v1/incidents/{incident_id}/checklist/{item}",
            req,
        )

    def untick(self, incident_id: int, item: str) -> IncidentView:
        return self._get(
            IncidentView, "DELETE", f"/api/v1/incidents/{incident_id}/checklist/{item}"
        )

    def move(self, incident_id: int, req: PhaseRequest) -> IncidentView:
        return self._get(
            IncidentView, "POST", f"/api/v1/incidents/{incident_id}/phase", req
        )

    def resolve(self, incident_id: int, req: ResolveRequest) -> IncidentView:
        return self._get(
            IncidentView, "POST", f"/api/v1/incidents/{incident_id}/resolve", req
        )

    def close(self, incident_id: int, req: CloseRequest) -> IncidentView:
        return self._get(
            IncidentView, "POST", f"/api/v1/incidents/{incident_id}/close", req
        )

    def post_update(
        self, incident_id: int, req: StatusUpdateRequest
    ) -> StatusUpdateView:
        return self._get(
            StatusUpdateView, "POST", f"/api/v1/incidents/{incident_id}/updates", req
        )

    def note(self, incident_id: int, req: NoteRequest) -> IncidentView:
        return self._get(
            IncidentView, "POST", f"/api/v1/incidents/{incident_id}/notes", req
        )

    def comms(self, incident_id: int, kind: str) -> CommsView:
        return self._get(
            CommsView, "GET", f"/api/v1/incidents/{incident_id}/comms/{kind}"
        )

    def postmortem(self, incident_id: int) -> PostmortemView:
        return self._get(
            PostmortemView, "GET", f"/api/v1/incidents/{incident_id}/postmortem"
        )
