"""The Alertmanager webhook (payload version 4) as alert groups and incidents.

State is applied per alert, never from the payload's top-level status alone: a
``firing`` payload may carry resolved alerts. The group resolves only when the
payload says ``resolved`` and left nothing out (``truncatedAlerts`` is 0); a
truncated payload is partial and is flagged on the group and the timeline
instead. Repeats of the same payload change nothing and notify nobody.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select

from mgops.alerts.grouping import (
    IngestResult,
    latest_group,
    most_severe,
    note_on_incident,
    open_group,
    open_incident_for,
    services_from_labels,
    severity_for,
    upsert_alert,
)
from mgops.clock import as_utc
from mgops.incidents.lifecycle import DeskEnv
from mgops.incidents.requests import IsoDatetime
from mgops.store.models import Alert, Integration

GO_ZERO_YEAR = 1


MAX_FINGERPRINT = 300  # the store's column


def without_nul(value: Any, depth: int = 0) -> Any:
    """``value`` with every NUL in its strings (keys too) turned into U+FFFD."""
    if depth > 64:
        return value  # left for the nesting checks to refuse
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {
            without_nul(k, depth + 1): without_nul(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_nul(v, depth + 1) for v in value]
    return value


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    startsAt: IsoDatetime | None = None
    endsAt: IsoDatetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _zero_is_none(cls, value: datetime | None) -> datetime | None:
        # Alertmanager sends Go's zero time for "not ended yet".
        if value is None or value.year <= GO_ZERO_YEAR:
            return None
        try:
            return as_utc(value)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past year 9999
            raise ValueError("the time is out of range once in UTC") from None

    def key(self) -> str:
        if self.fingerprint:
            # Alertmanager's own are 16 hex digits; a longer one is kept by its
            # hash rather than refused (Alertmanager does not resend a 4xx).
            if len(self.fingerprint) <= MAX_FINGERPRINT:
                return self.fingerprint
            return "sha256:" + hashlib.sha256(self.fingerprint.encode()).hexdigest()
        canonical = json.dumps(self.labels, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def summary(self) -> str:
        for key in ("summary", "description", "message"):
            if self.annotations.get(key):
                return self.annotations[key]
        return self.labels.get("alertname", "alert")


class AmPayload(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    version: str = "4"
    groupKey: str = Field(min_length=1)
    truncatedAlerts: int = Field(0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
    externalURL: str = ""
    alerts: list[AmAlert]

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # The store (PostgreSQL text, jsonb) cannot hold NUL; Alertmanager would
        # not resend a payload refused for it, so NUL becomes U+FFFD instead.
        return without_nul(data)

    @model_validator(mode="after")
    def _utf8(self) -> AmPayload:
        from mgops.alerts.events_v2 import encodable

        if not encodable(self.model_dump()):
            raise ValueError("the payload holds text that is not valid Unicode")
        return self

    def title(self) -> str:
        for source in (self.commonAnnotations, *(a.annotations for a in self.alerts)):
            if source.get("summary"):
                return source["summary"]
        name = self.groupLabels.get("alertname") or self.commonLabels.get("alertname")
        if name:
            extra = ", ".join(
                f"{k}={v}" for k, v in self.groupLabels.items() if k != "alertname"
            )
            return f"{name} ({extra})" if extra else name
        return "Alertmanager alert group"


def ingest_alertmanager(
    env: DeskEnv, integration: Integration, payload: AmPayload
) -> IngestResult:
    now = env.clock.now()
    result = IngestResult(truncated=payload.truncatedAlerts)
    firing = [a for a in payload.alerts if a.status == "firing"]
    # Nothing fires (whatever the top-level status says): never open a group.
    if not firing:
        existing = _open_or_none(env, integration, payload)
        if existing is None:
            return _late_resolution(env, integration, payload, result)

    severities = [
        severity_for({**payload.commonLabels, **a.labels}, env.policy)
        for a in payload.alerts
    ] or [env.policy.alerts.default_severity]
    labels = {**payload.groupLabels, **payload.commonLabels}
    group, created = open_group(
        env.session,
        integration,
        payload.groupKey,
        source="alertmanager",
        title=payload.title(),
        severity=most_severe(severities),
        labels=labels,
        now=now,
    )
    group.last_seen = now
    group.deliveries += 1
    result.group_id, result.new_group = group.id, created
    result.severity = group.severity
    if created:
        services = services_from_labels(labels) + [
            s for a in payload.alerts for s in services_from_labels(a.labels)
        ]
        starts = [
            a.startsAt
            for a in payload.alerts
            if a.status == "firing" and a.startsAt is not None
        ]
        incident = open_incident_for(
            env, group, services=services, started_at=min(starts, default=None)
        )
        if incident is not None:
            result.new_incident_id = incident.id

    for alert in payload.alerts:
        _apply_alert(env, group, alert, now, result)

    if payload.truncatedAlerts:
        group.truncated_seen += 1
        note_on_incident(
            env,
            group,
            "alert-truncated",
            f"Partial Alertmanager payload: {payload.truncatedAlerts} alerts left out; "
            "the group is not resolved from it",
            truncated=payload.truncatedAlerts,
            status=payload.status,
        )
        result.changes.append("truncated")
    elif payload.status == "resolved" and not _still_firing(env, group):
        group.status = "resolved"
        group.resolved_at = now
        result.resolved_group = True
        note_on_incident(
            env, group, "alert-group-resolved", f"Alert group resolved: {group.title}"
        )
        result.changes.append("group-resolved")
    result.incident_id = group.incident_id
    result.duplicate = not created and not result.changes
    return result


def _open_or_none(env: DeskEnv, integration: Integration, payload: AmPayload) -> Any:
    from mgops.alerts.grouping import find_open_group

    return find_open_group(env.session, integration, payload.groupKey, lock=True)


def _still_firing(env: DeskEnv, group: Any) -> bool:
    """Whether any alert of the group is firing, after this delivery's changes."""
    env.session.flush()
    count = env.session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.group_id == group.id, Alert.status == "firing")
    )
    return bool(count)


def _late_resolution(
    env: DeskEnv, integration: Integration, payload: AmPayload, result: IngestResult
) -> IngestResult:
    """A resolved payload for a group that is not open: record, open nothing."""
    previous = latest_group(env.session, integration, payload.groupKey)
    if previous is None:
        result.ignored = "resolved payload for an unknown group; nothing to resolve"
        return result
    result.group_id, result.incident_id = previous.id, previous.incident_id
    previous.deliveries += 1
    if payload.truncatedAlerts:
        previous.truncated_seen += 1
        note_on_incident(
            env,
            previous,
            "alert-truncated",
            f"Partial Alertmanager payload after resolution: {payload.truncatedAlerts} "
            "alerts left out; it resolves nothing",
            truncated=payload.truncatedAlerts,
        )
        result.changes.append("truncated")
        result.ignored = "truncated payload; resolves nothing"
    else:
        result.duplicate = True
        result.ignored = "group already resolved"
    return result


def _apply_alert(
    env: DeskEnv, group: Any, alert: AmAlert, now: datetime, result: IngestResult
) -> None:
    row, previous = upsert_alert(
        env.session,
        group,
        alert.key(),
        status=alert.status,
        summary=alert.summary(),
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=alert.startsAt,
        ends_at=alert.endsAt,
        now=now,
    )
    if previous == alert.status:
        return
    name = alert.labels.get("alertname", row.summary)
    if previous is None:
        verb = "firing" if alert.status == "firing" else "arrived resolved"
    elif alert.status == "resolved":
        verb = "resolved"
    else:
        verb = "firing again"
    note_on_incident(
        env,
        group,
        f"alert-{alert.status}",
        f"Alert {verb}: {name}",
        fingerprint=row.fingerprint,
        summary=row.summary,
    )
    result.changes.append(f"{row.fingerprint}:{alert.status}")
