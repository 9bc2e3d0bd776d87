"""What the desk returns: the shapes of the API, the CLI's ``--json`` and templates.

Views are plain pydantic models built from store rows; no face touches a row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ClockState = Literal["pending", "overdue", "met", "met-late", "not-applicable"]


class SlaClock(BaseModel):
    name: Literal["response", "resolution", "next-update"]
    due_at: datetime | None
    met_at: datetime | None = None
    state: ClockState
    seconds_left: int | None = Field(
        None, description="Until due (negative when overdue); None once met."
    )
    text: str


class ChecklistItemView(BaseModel):
    id: str
    text: str
    required: bool
    ticked: bool
    ticked_by: str | None = None
    ticked_at: datetime | None = None


class ChecklistView(BaseModel):
    phase: str
    items: list[ChecklistItemView]

    @property
    def open_items(self) -> list[ChecklistItemView]:
        return [i for i in self.items if i.required and not i.ticked]


class TimelineEntryView(BaseModel):
    id: int
    at: datetime
    actor: str
    kind: str
    message: str
    data: dict[str, Any] = {}


class StatusUpdateView(BaseModel):
    id: int
    incident_id: int
    posted_at: datetime
    author: str
    state: str
    what_we_know: str
    what_we_are_doing: str
    next_update_at: datetime | None
    public: bool


class IncidentSummary(BaseModel):
    id: int
    title: str
    severity: str
    phase: str
    owner: str | None
    services: list[str]
    customer_facing: bool
    declared_at: datetime
    resolved_at: datetime | None
    open: bool
    clocks: list[SlaClock]


class IncidentView(IncidentSummary):
    impact: str
    users_affected_pct: float | None
    source: str
    declared_by: str
    started_at: datetime
    responded_at: datetime | None
    closed_at: datetime | None
    phase_entered_at: datetime
    channel: str
    root_cause: str | None
    resolution: str | None
    postmortem_at: datetime | None
    checklist: ChecklistView
    updates: list[StatusUpdateView]
    timeline: list[TimelineEntryView]


class CommsView(BaseModel):
    incident_id: int
    kind: Literal["declaration", "status-update", "resolved", "customer-email"]
    subject: str | None = None
    text: str


class PostmortemView(BaseModel):
    incident_id: int
    markdown: str
