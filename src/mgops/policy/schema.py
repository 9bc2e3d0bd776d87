"""Pydantic models for the policy file.

A policy holds everything the runbook states as a table or a list: services and
their scaling limits, severities and their targets, workflow phases and their
checklists, communication templates, the on-call rotation, escalation levels,
external contacts and the alert-to-severity rules. ``default.yaml`` is the
Media Gateway's; ``mgops policy init`` writes a copy to edit.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PHASES = ("DETECT", "TRIAGE", "RESPOND", "RESOLVE", "REVIEW")
SEVERITY_NAMES = ("P1", "P2", "P3", "P4")
STATUS_STATES = ("Investigating", "Identified", "Mitigating", "Resolved")
WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

_TARGET = re.compile(r"^(\d+)(m|h|d)$|^next-business-day$|^next-sprint$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone") from None
    return value


class PagingMode(StrEnum):
    PAGE = "page"
    PAGE_BUSINESS_HOURS = "page-business-hours"
    ALERT = "alert"
    NONE = "none"


class StatusPageRule(StrEnum):
    ALWAYS = "always"
    IF_CUSTOMER_FACING = "if-customer-facing"
    NEVER = "never"


class ScaleTrigger(Strict):
    metric: Literal["cpu", "rps", "latency", "connections"]
    threshold: float = Field(gt=0)
    unit: Literal["percent", "per-pod", "ms"]


class Service(Strict):
    name: Annotated[str, Field(pattern=_SLUG.pattern)]
    display_name: str
    domain: Literal["backend", "platform", "database", "security"]
    deployment: str
    min_replicas: int = Field(ge=0)
    max_replicas: int = Field(ge=1)
    scale_triggers: list[ScaleTrigger]
    health_url: str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Service:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is above "
                f"max_replicas ({self.max_replicas})"
            )
        return self


class EscalationNotice(Strict):
    """Who is told about an open incident of this severity, and how soon."""

    role: str
    within_minutes: int | None = Field(default=None, ge=1)
    text: str


class Severity(Strict):
    name: Literal["P1", "P2", "P3", "P4"]
    label: str
    definition: list[str]
    examples: list[str] = []
    response_target: str
    resolution_target: str
    paging: PagingMode
    escalation: EscalationNotice
    status_update_minutes: int | None = Field(default=None, ge=1)
    status_page: StatusPageRule
    communication: str

    @field_validator("response_target", "resolution_target")
    @classmethod
    def _target(cls, value: str) -> str:
        if not _TARGET.match(value):
            raise ValueError(
                f"{value!r} is not a target: use 15m, 4h, 2d, "
                "next-business-day or next-sprint"
            )
        return value


class ChecklistItem(Strict):
    id: Annotated[str, Field(pattern=_SLUG.pattern)]
    text: str
    when: Literal["always", "customer-facing"] = "always"


class Phase(Strict):
    name: Literal["DETECT", "TRIAGE", "RESPOND", "RESOLVE", "REVIEW"]
    summary: str
    checklist: list[ChecklistItem]


class FirstAction(Strict):
    text: str
    command: str | None = None


class Templates(Strict):
    declaration: str
    status_update: str
    resolved: str
    customer_email_subject: str
    customer_email: str
    channel_name: str = "inc-{date}-{slug}"

    @field_validator(
        "declaration",
        "status_update",
        "resolved",
        "customer_email_subject",
        "customer_email",
    )
    @classmethod
    def _template(cls, value: str) -> str:
        from mgops.incidents.comms import check_template

        check_template(value)
        return value

    @field_validator("channel_name")
    @classmethod
    def _channel(cls, value: str) -> str:
        try:
            value.format(date="20260101", slug="x")
        except (KeyError, IndexError, ValueError):
            raise ValueError("channel_name may use only {date} and {slug}") from None
        return value


class BusinessHours(Strict):
    timezone: str
    days: list[str]
    start: time
    end: time

    _zone = field_validator("timezone")(_check_zone)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d.lower() not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown weekday {bad[0]!r}")
        return [d.lower() for d in value]


class Handoff(Strict):
    weekday: str = "monday"
    time: time
    procedure: list[ChecklistItem]

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        if value.lower() not in WEEKDAYS:
            raise ValueError(f"unknown weekday {value!r}")
        return value.lower()


class Rotation(Strict):
    name: Annotated[str, Field(pattern=_SLUG.pattern)]
    timezone: str
    length: Literal["daily", "weekly", "custom"] = "weekly"
    custom_hours: int | None = Field(default=None, ge=1)
    start: datetime
    members: list[str] = Field(min_length=1)
    handoff: Handoff
    secondary: Literal["next-in-order", "none"] = "next-in-order"
    active_days: list[str] | None = None
    active_start: time | None = None
    active_end: time | None = None
    requirements: list[str] = []

    _zone = field_validator("timezone")(_check_zone)

    @model_validator(mode="after")
    def _custom(self) -> Rotation:
        if self.length == "custom" and self.custom_hours is None:
            raise ValueError("a custom rotation needs custom_hours")
        if (self.active_start is None) != (self.active_end is None):
            raise ValueError("active_start and active_end go together")
        return self


class ContactMethod(Strict):
    kind: Literal["email", "slack", "phone", "sms", "webhook", "console"]
    address: str


class NotifyStep(Strict):
    """One step of a person's notification rule: which contact, how long after."""

    contact: Literal["email", "slack", "phone", "sms", "webhook", "console"]
    after_seconds: int = Field(default=0, ge=0, le=24 * 3600)


class Person(Strict):
    name: str
    handle: Annotated[str, Field(pattern=_SLUG.pattern)]
    contacts: list[ContactMethod] = []
    roles: list[str] = []
    notify: list[NotifyStep] = []


class Window(Strict):
    """Hours in which an escalation step may fire; outside them it waits."""

    timezone: str
    start: time
    end: time
    days: list[str] = list(WEEKDAYS)

    _zone = field_validator("timezone")(_check_zone)


class EscalationLevel(Strict):
    level: int = Field(ge=1, le=5)
    name: str
    method: str
    when: str
    target: str
    auto: Literal["unacknowledged", "incident-open", "severity-open", "manual"] = (
        "manual"
    )
    after_minutes: int | None = Field(default=None, ge=1)
    after_seconds: int | None = Field(default=None, ge=1)
    severities: list[str] = []
    window: Window | None = None

    def delay_seconds(self) -> int | None:
        """The wait before this level fires (``after_seconds`` wins, for tests)."""
        if self.after_seconds is not None:
            return self.after_seconds
        return self.after_minutes * 60 if self.after_minutes is not None else None


class ExternalContact(Strict):
    name: str
    contact: str
    note: str = ""


class AlertRule(Strict):
    """Alert labels (all must match) → the severity of the incident it opens."""

    match: dict[str, str]
    severity: Literal["P1", "P2", "P3", "P4"]


class AlertIntake(Strict):
    rules: list[AlertRule]
    default_severity: Literal["P1", "P2", "P3", "P4"] = "P3"
    open_incident_at_or_above: Literal["P1", "P2", "P3", "P4"] = "P4"


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class Lookup(Strict):
    """A read-only, parameterized query an operator may run (``mgops pg lookup``).

    Parameters are written ``%(name)s`` in the SQL and passed by the driver, never
    pasted into the text; the query runs in a READ ONLY transaction.
    """

    description: str
    sql: str
    params: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]] = []
    max_rows: int = Field(default=100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _placeholders(self) -> Lookup:
        used = set(_PLACEHOLDER.findall(self.sql))
        declared = set(self.params)
        if used - declared:
            raise ValueError(
                f"the SQL uses undeclared parameters {sorted(used - declared)}"
            )
        if declared - used:
            raise ValueError(f"parameters {sorted(declared - used)} are not in the SQL")
        if ";" in self.sql.strip().rstrip(";"):
            raise ValueError("a lookup is one statement")
        return self


class Sprint(Strict):
    anchor: date
    days: int = Field(default=14, ge=1)


class Policy(Strict):
    version: Literal[1]
    organisation: str
    support_email: str
    status_page_url: str | None = None
    business_hours: BusinessHours
    sprint: Sprint
    services: list[Service]
    severities: list[Severity]
    phases: list[Phase]
    paged_checklists: dict[str, list[ChecklistItem]]
    first_actions: dict[str, list[FirstAction]]
    templates: Templates
    rotations: list[Rotation]
    people: list[Person] = []
    escalation_levels: list[EscalationLevel]
    when_to_escalate: list[str] = []
    external_contacts: list[ExternalContact] = []
    alerts: AlertIntake
    lookups: dict[str, Lookup] = {}

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        names = [s.name for s in self.severities]
        if sorted(names) != list(SEVERITY_NAMES):
            raise ValueError("severities must define P1, P2, P3 and P4 once each")
        if [p.name for p in self.phases] != list(PHASES):
            raise ValueError(f"phases must be {', '.join(PHASES)} in that order")
        levels = [lv.level for lv in self.escalation_levels]
        if levels != sorted(set(levels)):
            raise ValueError("escalation levels must be unique and in order")
        services = [s.name for s in self.services]
        if len(services) != len(set(services)):
            raise ValueError("service names must be unique")
        return self

    def severity(self, name: str) -> Severity:
        for sev in self.severities:
            if sev.name == name:
                return sev
        raise KeyError(name)

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)

    def person(self, handle: str) -> Person | None:
        return next((p for p in self.people if p.handle == handle), None)
