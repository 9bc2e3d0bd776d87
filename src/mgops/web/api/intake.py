"""Intake endpoints: the Alertmanager webhook and the Events v2 ``/v2/enqueue``.

Each delivery runs in one transaction that commits before the response leaves,
so a 2xx always means "stored", and a retried delivery finds what the first one
wrote.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from mgops.access import find_integration
from mgops.alerts.alertmanager import AmPayload, ingest_alertmanager, without_nul
from mgops.alerts.events_v2 import (
    MAX_BODY_BYTES,
    InvalidEvent,
    ingest_event,
    validate_event,
)
from mgops.alerts.grouping import IngestResult
from mgops.errors import NotFound
from mgops.incidents.lifecycle import DeskEnv
from mgops.store.models import Integration
from mgops.web.api.errors import ERROR_RESPONSES
from mgops.web.deps import State
from mgops.web.metrics import INCIDENTS, INTAKE
from mgops.web.state import AppState

logger = logging.getLogger("mgops.intake")
router = APIRouter(tags=["intake"])

IntegrationKey = Annotated[str, Path(min_length=1, max_length=128)]


class IntakeResponse(BaseModel):
    status: str
    group_id: int | None
    incident_id: int | None
    new_incident: bool
    duplicate: bool
    resolved_group: bool
    truncated: int
    changes: list[str]
    ignored: str | None = None


def _response(result: IngestResult) -> IntakeResponse:
    return IntakeResponse(
        status="accepted",
        group_id=result.group_id,
        incident_id=result.incident_id,
        new_incident=result.new_incident_id is not None,
        duplicate=result.duplicate,
        resolved_group=result.resolved_group,
        truncated=result.truncated,
        changes=result.changes,
        ignored=result.ignored,
    )


def _outcome(result: IngestResult) -> str:
    if result.ignored:
        return "ignored"
    if result.new_group:
        return "new"
    return "duplicate" if result.duplicate else "updated"


@router.post(
    "/api/v1/integrations/alertmanager/{key}",
    response_model=IntakeResponse,
    responses=ERROR_RESPONSES,
)
def alertmanager_webhook(key: IntegrationKey, payload: AmPayload, state: State) -> Any:
    # A job may run twice (see BatchWriter): it touches nothing but the session.
    def job(session: Session) -> IngestResult | None:
        integration = find_integration(session, key, "alertmanager")
        if integration is None:
            return None
        env = DeskEnv(
            session, state.policy, state.clock, _actor("alertmanager", integration)
        )
        return ingest_alertmanager(env, integration, payload)

    result = state.intake.run(job)
    if result is None:
        INTAKE.labels("alertmanager", "unknown-key").inc()
        raise NotFound("No Alertmanager integration has this key.")
    _log("alertmanager", result, payload.groupKey)
    if result.new_incident_id is not None:
        state.wake.set()
    return _response(result)


_TEXT = {"type": "string", "minLength": 1, "pattern": r"\S"}
_PAYLOAD = {
    "type": "object",
    "required": ["summary", "source", "severity"],
    "properties": {
        "summary": {**_TEXT, "maxLength": 1024},
        "source": _TEXT,
        "severity": {
            "type": "string",
            "enum": ["critical", "error", "warning", "info"],
        },
        "timestamp": {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
        },
        "component": {"type": ["string", "null"]},
        "group": {"type": ["string", "null"]},
        "class": {"type": ["string", "null"]},
        "custom_details": {"type": ["object", "null"]},
    },
}
_ROUTING_KEY = {"type": "string", "minLength": 32, "maxLength": 32}
_DEDUP_KEY = {"type": "string", "minLength": 1, "maxLength": 255}
# A trigger carries a payload; acknowledge and resolve name the alert by dedup_key.
_EVENT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "required": ["routing_key", "event_action", "payload"],
            "properties": {
                "routing_key": _ROUTING_KEY,
                "dedup_key": {"anyOf": [_DEDUP_KEY, {"type": "null"}]},
                "event_action": {"type": "string", "enum": ["trigger"]},
                "payload": _PAYLOAD,
                "images": {
                    "type": ["array", "null"],
                    "items": {
                        "type": "object",
                        "required": ["src"],
                        "properties": {
                            "src": {"type": "string", "pattern": "^https://"},
                            "href": {"type": "string"},
                            "alt": {"type": "string"},
                        },
                    },
                },
                "links": {
                    "type": ["array", "null"],
                    "items": {
                        "type": "object",
                        "required": ["href"],
                        "properties": {
                            "href": {"type": "string", "minLength": 1},
                            "text": {"type": "string"},
                        },
                    },
                },
                "client": {"type": ["string", "null"]},
                "client_url": {"type": ["string", "null"]},
            },
        },
        {
            "type": "object",
            "required": ["routing_key", "event_action", "dedup_key"],
            "properties": {
                "routing_key": _ROUTING_KEY,
                "dedup_key": _DEDUP_KEY,
                "event_action": {"type": "string", "enum": ["acknowledge", "resolve"]},
            },
        },
    ],
}
_EVENT_ERROR = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "string"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
}
_EVENT_OK = {
    "type": "object",
    "required": ["status", "message", "dedup_key"],
    "properties": {
        "status": {"type": "string"},
        "message": {"type": "string"},
        "dedup_key": {"type": "string"},
        "duplicate": {"type": "boolean"},
    },
}


def _invalid(errors: list[str]) -> JSONResponse:
    return JSONResponse(
        status_code=400,
        content={
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": errors,
        },
    )


@router.post(
    "/v2/enqueue",
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _EVENT_SCHEMA}},
        },
        "responses": {
            "202": {
                "description": "Event processed",
                "content": {"application/json": {"schema": _EVENT_OK}},
            },
            "400": {
                "description": "Invalid event",
                "content": {"application/json": {"schema": _EVENT_ERROR}},
            },
            "429": {
                "description": "Request Limit Exceeded",
                "content": {"application/json": {"schema": _EVENT_ERROR}},
            },
        },
    },
)
async def enqueue(request: Request, state: State) -> JSONResponse:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return _invalid(["Request body is larger than 512 KB"])
    try:
        # NUL cannot be stored (PostgreSQL text, jsonb): it becomes U+FFFD, as
        # Alertmanager payloads do, rather than costing the sender its event.
        body = validate_event(without_nul(json.loads(raw, parse_constant=_no_constant)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        INTAKE.labels("events-v2", "invalid").inc()
        return _invalid(["Request body is not valid JSON"])
    except InvalidEvent as exc:
        INTAKE.labels("events-v2", "invalid").inc()
        return _invalid(exc.errors)
    wait = state.limiter.retry_after(body["routing_key"])
    if wait:
        INTAKE.labels("events-v2", "rate-limited").inc()
        return JSONResponse(
            status_code=429,
            headers={"Retry-After": str(wait)},
            content={
                "status": "throttle event",
                "message": "Request Limit Exceeded",
                "errors": [
                    f"More than {state.limiter.per_minute} events in 60 "
                    "seconds for this routing key; retry later"
                ],
            },
        )
    outcome = await asyncio.wrap_future(
        state.intake.submit(functools.partial(_store_event, state, body))
    )
    if outcome is None:
        INTAKE.labels("events-v2", "unknown-key").inc()
        return _invalid(["Invalid routing key"])
    result, dedup = outcome
    _log("events-v2", result, dedup)
    if result.new_incident_id is not None:
        state.wake.set()
    content: dict[str, Any] = {
        "status": "success",
        "message": "Event processed",
        "dedup_key": dedup,
    }
    if result.duplicate:
        content["duplicate"] = True
    return JSONResponse(status_code=202, content=content)


def _actor(source: str, integration: Integration) -> str:
    """Who the timeline says acted: the sender's kind and integration name,
    cut to the store's 100 characters (a name may take all 100 itself)."""
    return f"{source}:{integration.name}"[:100]


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON, and the store's JSON columns refuse them."""
    raise ValueError(f"{name} is not JSON")


def _store_event(
    state: AppState, body: dict[str, Any], session: Session
) -> tuple[IngestResult, str] | None:
    integration = find_integration(session, body["routing_key"], "events-v2")
    if integration is None:
        return None
    env = DeskEnv(session, state.policy, state.clock, _actor("events-v2", integration))
    return ingest_event(env, integration, body)


def _log(source: str, result: IngestResult, key: str) -> None:
    outcome = _outcome(result)
    INTAKE.labels(source, outcome).inc()
    if result.new_incident_id is not None:
        INCIDENTS.labels(result.severity or "", source).inc()
    logger.info(
        "alert delivery %s",
        outcome,
        extra={
            "source": source,
            "groupKey": key[:200],
            "groupId": result.group_id,
            "incidentId": result.incident_id,
            "changes": result.changes,
        },
    )
