"""Request shapes shared by the API's bodies, the CLI and the remote client."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _iso_text(value: Any) -> Any:
    # JSON has no datetime: accept RFC 3339 text (or a datetime from Python
    # callers), never a bare number that lax parsing would take as epoch seconds.
    if value is None or isinstance(value, str | datetime):
        return value
    raise ValueError("expected an RFC 3339 date-time string")


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_text), Field(strict=False)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DeclareRequest(Request):
    title: str = Field(min_length=1, max_length=300)
    severity: Literal["P1", "P2", "P3", "P4"]
    impact: str = ""
    services: list[str] = []
    customer_facing: bool = False
    users_affected_pct: float | None = Field(None, ge=0, le=100)
    owner: str | None = Field(None, min_length=1, max_length=100)
    started_at: IsoDatetime | None = None
    page: bool = Field(True, description="Page the on-call as the severity says.")


class OwnerRequest(Request):
    owner: str = Field(min_length=1, max_length=100)


class SeverityRequest(Request):
    severity: Literal["P1", "P2", "P3", "P4"]
    reason: str = Field(min_length=1)


class TickRequest(Request):
    note: str | None = None


class PhaseRequest(Request):
    to: Literal["DETECT", "TRIAGE", "RESPOND", "RESOLVE", "REVIEW"] | None = None
    force: bool = False
    reason: str | None = None


class ResolveRequest(Request):
    root_cause: str | None = None
    resolution: str | None = None
    force: bool = False


class CloseRequest(Request):
    force: bool = False


class EditRequest(Request):
    impact: str | None = None
    services: list[str] | None = None
    customer_facing: bool | None = None
    users_affected_pct: float | None = Field(None, ge=0, le=100)
    root_cause: str | None = None
    resolution: str | None = None
    postmortem_at: IsoDatetime | None = None


class StatusUpdateRequest(Request):
    state: Literal["Investigating", "Identified", "Mitigating", "Resolved"]
    what_we_know: str = Field(min_length=1)
    what_we_are_doing: str = Field(min_length=1)
    next_update_in_minutes: int | None = Field(None, ge=1, le=1440)
    public: bool = True


class NoteRequest(Request):
    text: str = Field(min_length=1)
    action_item: bool = False
