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
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update

from mgops.alerts.grouping import (
    IngestResult,
    find_open_group,
    key_hash,
    note_on_incident,
    open_group,
    open_incident_for,
    services_from_labels,
    severity_for,
    upsert_alert,
)
from mgops.clock import as_utc
from mgops.incidents.lifecycle import DeskEnv
from mgops.store.models import Alert, AlertGroup, Incident, Integration, TimelineEntry

ACTIONS = ("trigger", "acknowledge", "resolve")
CONTEXT_FIELDS = ("images", "links", "client", "client_url")
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
        errors.extend(_context_errors(body))
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


def _context_errors(body: dict[str, Any]) -> list[str]:
    """``images``, ``links``, ``client`` and ``client_url`` as Events v2 shapes them."""
    errors = []
    for name, required in (("images", "src"), ("links", "href")):
        items = body.get(name)
        if items is None:
            continue
        if not isinstance(items, list):
            errors.append(f"'{name}' must be an array")
            continue
        for index, item in enumerate(items):
            where = f"'{name}[{index}]'"
            if not isinstance(item, dict):
                errors.append(f"{where} must be an object")
            elif not isinstance(item.get(required), str) or not item[required]:
                errors.append(f"{where}.{required} is required")
            elif name == "images" and not item["src"].startswith("https://"):
                errors.append(f"{where}.src must be an https URL")
            else:
                errors.extend(
                    f"{where}.{key} must be a string"
                    for key in ("src", "href", "alt", "text")
                    if key in item and not isinstance(item[key], str)
                )
    for name in ("client", "client_url"):
        if body.get(name) is not None and not isinstance(body[name], str):
            errors.append(f"'{name}' must be a string")
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
    except (ValueError, OverflowError):
        return None


def ingest_event(
    env: DeskEnv, integration: Integration, body: dict[str, Any]
) -> tuple[IngestResult, str]:
    """Apply one validated event; returns what happened and the dedup key."""
    action = body["event_action"]
    dedup = body.get("dedup_key") or str(uuid.uuid4())
    if action == "trigger":
        context = {k: body[k] for k in CONTEXT_FIELDS if body.get(k) is not None}
        return _trigger(env, integration, dedup, body["payload"], context), dedup
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
    from mgops.oncall.paging import acknowledge_page
    from mgops.oncall.paging_models import Page

    for page_id in env.session.scalars(
        select(Page.id).where(Page.incident_id == incident_id, Page.status == "open")
    ):
        acknowledge_page(env, page_id)


_groups = cast(Table, AlertGroup.__table__)
_alerts = cast(Table, Alert.__table__)
_incidents = cast(Table, Incident.__table__)
_timeline = cast(Table, TimelineEntry.__table__)
# Built once: constructing a statement costs more than running a cached one.
_FIND_REPEAT = (
    select(
        _groups.c.id,
        _groups.c.incident_id,
        _groups.c.severity,
        _alerts.c.id,
        _alerts.c.status,
        _alerts.c.summary,
        _incidents.c.updated_at,
    )
    .join(
        _alerts,
        (_alerts.c.group_id == _groups.c.id)
        & (_alerts.c.fingerprint == bindparam("dedup")),
    )
    .outerjoin(_incidents, _incidents.c.id == _groups.c.incident_id)
    .where(
        _groups.c.integration_id == bindparam("integration"),
        _groups.c.key_hash == bindparam("key_hash"),
        _groups.c.resolved_at.is_(None),
    )
    .with_for_update(of=_groups)
)
_TOUCH_GROUP = (
    update(_groups)
    .where(_groups.c.id == bindparam("group"))
    .values(last_seen=bindparam("now"), deliveries=_groups.c.deliveries + 1)
)
_TOUCH_ALERT = (
    update(_alerts)
    .where(_alerts.c.id == bindparam("alert"))
    .values(last_seen=bindparam("now"))
)
_REFIRE_ALERT = (
    update(_alerts)
    .where(_alerts.c.id == bindparam("alert"))
    .values(last_seen=bindparam("now"), status="firing", ends_at=None)
)
_NOTE = insert(_timeline)
_TOUCH_INCIDENT = (
    update(_incidents)
    .where(_incidents.c.id == bindparam("incident"))
    .values(updated_at=bindparam("at"))
)


def _repeat_trigger(
    env: DeskEnv, integration: Integration, dedup: str, summary: str
) -> IngestResult | None:
    """A trigger for an alert that is already open, or None when there is none.

    Repeats are most of what a flapping or re-sending source delivers, so this is
    written in prepared statements (one read, three updates, one insert) on the
    session's connection rather than through the ORM's change tracking, which
    costs several times as much. The outcome is the general path's: group and
    alert seen again, the duplicate said on the incident's timeline.
    """
    session = env.session
    session.flush()  # statements below go around the ORM: nothing may be pending
    conn = session.connection()
    found = conn.execute(
        _FIND_REPEAT,
        {"dedup": dedup, "integration": integration.id, "key_hash": key_hash(dedup)},
    ).first()
    if found is None:
        return None
    group_id, incident_id, severity, alert_id, status, first_summary, updated = found
    now = env.clock.now()
    conn.execute(_TOUCH_GROUP, {"group": group_id, "now": now})
    refire = _TOUCH_ALERT if status == "firing" else _REFIRE_ALERT
    conn.execute(refire, {"alert": alert_id, "now": now})
    if incident_id is not None:
        at = max(now, updated) if updated else now
        conn.execute(
            _NOTE,
            {
                "incident_id": incident_id,
                "at": at,
                "actor": env.actor,
                "kind": "alert-duplicate",
                "message": f"Duplicate trigger for dedup_key {dedup!r}: {summary}",
                "data": {
                    "group_id": group_id,
                    "dedup_key": dedup,
                    "summary": summary,
                    "first_summary": first_summary,
                },
            },
        )
        conn.execute(_TOUCH_INCIDENT, {"incident": incident_id, "at": at})
    # Rows this session may hold as objects are now behind the store: reload them
    # on next use rather than write stale values back.
    for model, row_id in (
        (AlertGroup, group_id),
        (Alert, alert_id),
        (Incident, incident_id),
    ):
        held = session.identity_map.get(session.identity_key(model, row_id))
        if held is not None:
            session.expire(held)
    return IngestResult(
        group_id=group_id,
        incident_id=incident_id,
        severity=severity,
        duplicate=True,
    )


def _trigger(
    env: DeskEnv,
    integration: Integration,
    dedup: str,
    payload: dict[str, Any],
    context: dict[str, Any],
) -> IngestResult:
    repeat = _repeat_trigger(env, integration, dedup, payload["summary"].strip())
    if repeat is not None:
        return repeat
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
    # Read before anything below changes a row: a query after a change makes the
    # session flush first, and a flush is most of a repeat's cost. (Held in a
    # variable: the session's identity map keeps only weak references.)
    incident = (
        env.session.get(Incident, group.incident_id) if group.incident_id else None
    )
    result = IngestResult(group_id=group.id, new_group=created, severity=group.severity)
    details = payload.get("custom_details")
    alert, previous = upsert_alert(
        env.session,
        group,
        dedup,
        status="firing",
        summary=summary,
        labels=labels,
        annotations={
            **({"custom_details": details} if details is not None else {}),
            **context,  # images, links and the client, kept as sent
        },
        starts_at=_parse_time(payload.get("timestamp")) or now,
        ends_at=None,
        now=now,
    )
    group.last_seen = now
    group.deliveries += 1
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
