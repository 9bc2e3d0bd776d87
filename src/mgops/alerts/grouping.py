"""Alert groups and alerts in the store, written so that retries meet at the database.

An open group is unique per (integration, key hash) through a partial unique
index; alerts are unique per (group, fingerprint). Both are created with
``INSERT … ON CONFLICT DO NOTHING`` and then read back under a row lock, so two
deliveries of one event — a retry, an HA pair of Alertmanagers, fifty
concurrent senders — end in one group and one alert, never two.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mgops.incidents.lifecycle import DeskEnv, declare_incident, record
from mgops.oncall.paging import page_for_incident
from mgops.policy.schema import SEVERITY_NAMES, Policy
from mgops.store.models import Alert, AlertGroup, Incident, Integration


@dataclass
class IngestResult:
    """What one delivery did; the paging engine acts on ``new_incident_id``."""

    group_id: int | None = None
    incident_id: int | None = None
    new_group: bool = False
    new_incident_id: int | None = None
    severity: str | None = None
    duplicate: bool = False
    resolved_group: bool = False
    truncated: int = 0
    ignored: str | None = None
    changes: list[str] = field(default_factory=list)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _insert(session: Session, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def severity_for(labels: dict[str, str], policy: Policy) -> str:
    for rule in policy.alerts.rules:
        if all(
            str(labels.get(k, "")).lower() == v.lower() for k, v in rule.match.items()
        ):
            return rule.severity
    return policy.alerts.default_severity


def most_severe(values: list[str]) -> str:
    return min(values, key=SEVERITY_NAMES.index)


def open_group(
    session: Session,
    integration: Integration,
    key: str,
    *,
    source: str,
    title: str,
    severity: str,
    labels: dict[str, Any],
    now: datetime,
) -> tuple[AlertGroup, bool]:
    """The open group for ``key``, created if there is none; ``True`` when created.

    Most deliveries repeat a group that is open, so look before inserting; the
    insert only runs when the lookup found nothing, and its conflict clause keeps
    two racing first deliveries to one group.
    """
    group = find_open_group(session, integration, key, lock=True)
    if group is not None:
        return group, False
    stmt = (
        _insert(session, AlertGroup)
        .values(
            integration_id=integration.id,
            key_hash=key_hash(key),
            group_key=key,
            source=source,
            status="firing",
            title=title[:1024],
            severity=severity,
            labels=labels,
            first_seen=now,
            last_seen=now,
            truncated_seen=0,
            deliveries=0,
        )
        .on_conflict_do_nothing(
            index_elements=["integration_id", "key_hash"],
            index_where=text("resolved_at IS NULL"),
        )
        .returning(AlertGroup.id)
    )
    created_id = session.execute(stmt).scalar()
    group = find_open_group(session, integration, key, lock=True)
    assert group is not None, "an open group exists after the upsert"
    return group, created_id is not None


def find_open_group(
    session: Session, integration: Integration, key: str, *, lock: bool = False
) -> AlertGroup | None:
    query = select(AlertGroup).where(
        AlertGroup.integration_id == integration.id,
        AlertGroup.key_hash == key_hash(key),
        AlertGroup.resolved_at.is_(None),
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def latest_group(
    session: Session, integration: Integration, key: str
) -> AlertGroup | None:
    return session.scalars(
        select(AlertGroup)
        .where(
            AlertGroup.integration_id == integration.id,
            AlertGroup.key_hash == key_hash(key),
        )
        .order_by(AlertGroup.id.desc())
    ).first()


def upsert_alert(
    session: Session,
    group: AlertGroup,
    fingerprint: str,
    *,
    status: str,
    summary: str,
    labels: dict[str, Any],
    annotations: dict[str, Any],
    starts_at: datetime | None,
    ends_at: datetime | None,
    now: datetime,
) -> tuple[Alert, str | None]:
    """Insert or update one alert; returns it and its previous status (None if new)."""
    alert = _find_alert(session, group, fingerprint)
    if alert is not None:
        return alert, _refresh(alert, status, ends_at, now)
    stmt = (
        _insert(session, Alert)
        .values(
            group_id=group.id,
            fingerprint=fingerprint,
            status=status,
            summary=summary[:1024],
            labels=labels,
            annotations=annotations,
            starts_at=starts_at,
            ends_at=ends_at,
            first_seen=now,
            last_seen=now,
        )
        .on_conflict_do_nothing(index_elements=["group_id", "fingerprint"])
        .returning(Alert.id)
    )
    created = session.execute(stmt).scalar() is not None
    alert = _find_alert(session, group, fingerprint)
    assert alert is not None, "the alert exists after the upsert"
    if created:
        return alert, None
    return alert, _refresh(alert, status, ends_at, now)


def _find_alert(session: Session, group: AlertGroup, fingerprint: str) -> Alert | None:
    return session.scalars(
        select(Alert)
        .where(Alert.group_id == group.id, Alert.fingerprint == fingerprint)
        .execution_options(populate_existing=True)
    ).first()


def _refresh(alert: Alert, status: str, ends_at: datetime | None, now: datetime) -> str:
    """Mark a known alert seen again; returns the status it had."""
    previous = alert.status
    alert.last_seen = now
    if previous != status:
        alert.status = status
        alert.ends_at = ends_at
    return previous


def open_incident_for(
    env: DeskEnv,
    group: AlertGroup,
    *,
    services: list[str],
    started_at: datetime | None = None,
) -> Incident | None:
    """Declare the group's incident when its severity reaches the policy's bar."""
    bar = env.policy.alerts.open_incident_at_or_above
    if SEVERITY_NAMES.index(group.severity) > SEVERITY_NAMES.index(bar):
        return None
    known = {s.name for s in env.policy.services}
    incident = declare_incident(
        env,
        title=incident_title(group.title),
        severity=group.severity,
        services=[s for s in services if s in known],
        source=group.source,
        started_at=_plausible_start(started_at, env.clock.now()),
    )
    group.incident_id = incident.id
    record(
        env,
        incident,
        "alert-group-opened",
        f"Opened from {group.source} alert group {group.id}",
        group_id=group.id,
        labels=group.labels,
    )
    if group.silenced_until is None:
        page_for_incident(env, incident)
    return incident


def incident_title(text: str) -> str:
    """An alert's summary as an incident title: one line, printable, ≤ 300 chars."""
    clean = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if not clean:
        return "Alert"
    return clean if len(clean) <= 300 else clean[:299] + "…"


def _plausible_start(started_at: datetime | None, now: datetime) -> datetime | None:
    """The alert's own start when it is believable: not ahead, not ages ago.

    Senders write the Unix epoch or other placeholders when they do not know.
    """
    if started_at is None or now - started_at > timedelta(days=30):
        return None
    return min(started_at, now)


def note_on_incident(
    env: DeskEnv, group: AlertGroup, kind: str, message: str, **data: Any
) -> None:
    if group.incident_id is None:
        return
    incident = env.session.get(Incident, group.incident_id)
    if incident is not None:
        record(env, incident, kind, message, group_id=group.id, **data)


def services_from_labels(labels: dict[str, Any]) -> list[str]:
    found = []
    for key in ("service", "app", "deployment", "job", "container"):
        value = labels.get(key)
        if isinstance(value, str) and value:
            found.append(value)
    return found
