"""An Events API v2 compatible endpoint: any tool that pages PagerDuty can page mgops.

Rules kept from the Events v2 contract: the integration key travels in the body
as ``routing_key`` (32 characters); ``trigger`` opens an alert or, when an open
alert has the same ``dedup_key``, is logged against it; ``acknowledge`` and
``resolve`` act only on an open alert of the same routing key and are otherwise
dropped but still answered 202; after a resolve, a trigger with the same key opens
a new alert. A trigger without ``dedup_key`` gets a generated one, returned in the
202 body. mgops adds ``"duplicate": true`` to the 202 body of a repeated trigger.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from mgops.alerts.grouping import (
    IngestResult,
    find_open_group,
    note_on_incident,
    open_group,
    open_incident_for,
    services_from_labels,
    severity_for,
    upsert_alert,
)
from mgops.clock import as_utc
from mgops.incidents.lifecycle import DeskEnv
from mgops.store.models import Integration

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_BODY_BYTES = 512 * 1024


class InvalidEvent(Exception):
    """The event breaks the Events v2 contract; ``errors`` lists why."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def validate_event(body: Any) -> dict[str, Any]:
    """Check an event the way Events v2 does; raise ``InvalidEvent`` with reasons."""
    if not isinstance(body, dict):
        raise InvalidEvent(["Event must be a JSON object"])
    if not encodable(body):
        raise InvalidEvent(
            [
                "Event contains text that is not valid Unicode "
                "(a lone surrogate escape such as \\udfff)"
            ]
        )
    errors: list[str] = []
    key = body.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or blank")
    elif len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = body.get("event_action")
    if action not in ACTIONS:
        errors.append(
            "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"
        )
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not dedup):
        errors.append("'dedup_key' must be a non-empty string")
    elif isinstance(dedup, str) and len(dedup) > 255:
        errors.append("'dedup_key' is too long (at most 255 characters)")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append(f"'dedup_key' is required for event_action '{action}'")
    if action == "trigger":
        errors.extend(_payload_errors(body.get("payload")))
    if errors:
        raise InvalidEvent(errors)
    return body


def encodable(value: Any, depth: int = 0) -> bool:
    """True when every string in ``value`` can be stored as UTF-8.

    JSON may carry ``\\udfff``-style escapes that decode to lone surrogates;
    stored, they would break every later response that includes them.
    """
    if depth > 64:
        return False
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(
            encodable(k, depth + 1) and encodable(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(encodable(v, depth + 1) for v in value)
    return True


def _payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        errors.append("'payload.summary' is too long (at most 1024 characters)")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of: critical, "
            "error, warning, info)"
        )
    timestamp = payload.get("timestamp")
    if timestamp is not None and _parse_time(timestamp) is None:
        errors.append("'payload.timestamp' is not an ISO 8601 timestamp")
    for name in ("component", "group", "class"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            errors.append(f"'payload.{name}' must be a string")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        errors.append("'payload.custom_details' must be an object")
    return errors


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    # Events v2 examples write offsets as +0000.
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def ingest_event(
    env: DeskEnv, integration: Integration, body: dict[str, Any]
) -> tuple[IngestResult, str]:
    """Apply one validated event; returns what happened and the dedup key."""
    action = body["event_action"]
    dedup = body.get("dedup_key") or str(uuid.uuid4())
    if action == "trigger":
        return _trigger(env, integration, dedup, body["payload"]), dedup
    result = IngestResult()
    group = find_open_group(env.session, integration, dedup, lock=True)
    if group is None:
        result.ignored = f"no open alert with dedup_key {dedup!r}; {action} dropped"
        return result, dedup
    now = env.clock.now()
    result.group_id, result.incident_id = group.id, group.incident_id
    group.last_seen = now
    group.deliveries += 1
    if action == "acknowledge":
        if group.acknowledged_at is None:
            group.acknowledged_at = now
            group.status = "acknowledged"
            note_on_incident(
                env,
                group,
                "alert-acknowledged",
                f"Alert acknowledged by sender: {group.title}",
            )
            result.changes.append("acknowledged")
            _acknowledge_pages(env, group.incident_id)
        else:
            result.duplicate = True
        return result, dedup
    for alert in group.alerts:
        alert.status, alert.ends_at, alert.last_seen = "resolved", now, now
    group.status, group.resolved_at = "resolved", now
    result.resolved_group = True
    result.changes.append("resolved")
    note_on_incident(
        env, group, "alert-group-resolved", f"Alert resolved: {group.title}"
    )
    return result, dedup


def _acknowledge_pages(env: DeskEnv, incident_id: int | None) -> None:
    """An acknowledgement from the sender stops the incident's paging, as an
    acknowledgement in the Events API stops notifications."""
    if incident_id is None:
        return
    from sqlalchemy import select

    from mgops.oncall.paging import acknowledge_page
    from mgops.oncall.paging_models import Page

    for page_id in env.session.scalars(
        select(Page.id).where(Page.incident_id == incident_id, Page.status == "open")
    ):
        acknowledge_page(env, page_id)


def _trigger(
    env: DeskEnv, integration: Integration, dedup: str, payload: dict[str, Any]
) -> IngestResult:
    now = env.clock.now()
    labels = {
        k: str(payload[k])
        for k in ("severity", "source", "component", "group", "class")
        if payload.get(k) is not None
    }
    summary = payload["summary"].strip()
    group, created = open_group(
        env.session,
        integration,
        dedup,
        source="events-v2",
        title=summary,
        severity=severity_for(labels, env.policy),
        labels=labels,
        now=now,
    )
    group.last_seen = now
    group.deliveries += 1
    result = IngestResult(group_id=group.id, new_group=created, severity=group.severity)
    details = payload.get("custom_details")
    alert, previous = upsert_alert(
        env.session,
        group,
        dedup,
        status="firing",
        summary=summary,
        labels=labels,
        annotations={"custom_details": details} if details is not None else {},
        starts_at=_parse_time(payload.get("timestamp")) or now,
        ends_at=None,
        now=now,
    )
    if created:
        incident = open_incident_for(
            env,
            group,
            services=services_from_labels(labels),
            started_at=_parse_time(payload.get("timestamp")),
        )
        result.new_incident_id = incident.id if incident else None
        note_on_incident(
            env, group, "alert-firing", f"Alert triggered: {summary}", dedup_key=dedup
        )
    else:
        result.duplicate = True
        note_on_incident(
            env,
            group,
            "alert-duplicate",
            f"Duplicate trigger for dedup_key {dedup!r}: {summary}",
            dedup_key=dedup,
            summary=summary,
            first_summary=alert.summary,
        )
    result.incident_id = group.incident_id
    del previous
    return result
