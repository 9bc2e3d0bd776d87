"""An incident's life: declare, own, re-grade, tick, move through the phases, resolve.

Phases run DETECT → TRIAGE → RESPOND → RESOLVE → REVIEW. Leaving a phase with
unticked required checklist items, or skipping a phase, needs ``force``, and a
forced move is written to the timeline with what was left open. Every change
appends to the timeline; nothing on it is ever edited or removed.

Instants come from the injected clock but never run backwards on one incident:
a change is stamped no earlier than the incident's previous change.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mgops.clock import Clock
from mgops.errors import ChecklistIncomplete, Conflict, InputError, NotFound
from mgops.incidents.checklists import checklist_view
from mgops.policy.schema import PHASES, SEVERITY_NAMES, Policy
from mgops.store.models import ChecklistTick, Incident, TimelineEntry


@dataclass(frozen=True)
class DeskEnv:
    """The collaborators every desk function needs."""

    session: Session
    policy: Policy
    clock: Clock
    actor: str


def get_incident(env: DeskEnv, incident_id: int) -> Incident:
    incident = env.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Incident {incident_id} does not exist.")
    return incident


def stamp(env: DeskEnv, incident: Incident) -> datetime:
    """Now, or the incident's last change if the clock is behind it."""
    now = env.clock.now()
    return max(now, incident.updated_at) if incident.updated_at else now


def record(
    env: DeskEnv,
    incident: Incident,
    kind: str,
    message: str,
    *,
    at: datetime | None = None,
    actor: str | None = None,
    **data: Any,
) -> TimelineEntry:
    when = at or stamp(env, incident)
    entry = TimelineEntry(
        incident_id=incident.id,
        at=when,
        actor=actor or env.actor,
        kind=kind,
        message=message,
        data=data,
    )
    env.session.add(entry)
    incident.updated_at = max(incident.updated_at, when)
    return entry


def slugify(text: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return (slug[:limit].rstrip("-")) or "incident"


def channel_name(policy: Policy, declared_at: datetime, title: str) -> str:
    return policy.templates.channel_name.format(
        date=declared_at.strftime("%Y%m%d"), slug=slugify(title)
    )


def _check_severity(severity: str) -> str:
    value = severity.upper()
    if value not in SEVERITY_NAMES:
        raise InputError(f"Severity {severity!r} is not one of P1, P2, P3, P4.")
    return value


def _check_services(env: DeskEnv, services: list[str]) -> list[str]:
    known = {s.name for s in env.policy.services}
    unknown = [s for s in services if s not in known]
    if unknown:
        raise InputError(
            f"Unknown service {unknown[0]!r}; the policy knows "
            f"{', '.join(sorted(known))}."
        )
    return list(dict.fromkeys(services))


def declare_incident(
    env: DeskEnv,
    *,
    title: str,
    severity: str,
    impact: str = "",
    services: list[str] | None = None,
    customer_facing: bool = False,
    users_affected_pct: float | None = None,
    owner: str | None = None,
    source: str = "manual",
    started_at: datetime | None = None,
) -> Incident:
    title = title.strip()
    if not title:
        raise InputError("An incident needs a title.")
    if any(not ch.isprintable() for ch in title):
        raise InputError("An incident title is one line of printable text.")
    if len(impact) > 5000:
        raise InputError("The impact is at most 5000 characters.")
    if len(title) > 300:
        raise InputError("An incident title is at most 300 characters.")
    if users_affected_pct is not None and not 0 <= users_affected_pct <= 100:
        raise InputError("Percent of users affected must be between 0 and 100.")
    now = env.clock.now()
    if started_at is not None and started_at > now:
        raise InputError("An incident cannot start in the future.")
    incident = Incident(
        title=title,
        severity=_check_severity(severity),
        phase="DETECT",
        impact=impact.strip(),
        services=_check_services(env, services or []),
        customer_facing=customer_facing,
        users_affected_pct=users_affected_pct,
        owner=owner,
        source=source,
        declared_by=env.actor,
        declared_at=now,
        started_at=started_at or now,
        responded_at=now if owner else None,
        phase_entered_at=now,
        updated_at=now,
        channel=channel_name(env.policy, now, title),
    )
    env.session.add(incident)
    env.session.flush()
    record(
        env,
        incident,
        "declared",
        f"Declared {incident.severity}: {title}",
        at=now,
        severity=incident.severity,
        source=source,
    )
    if owner:
        record(
            env,
            incident,
            "owner-assigned",
            f"Owner set to {owner}",
            at=now,
            owner=owner,
        )
    return incident


def assign_owner(env: DeskEnv, incident_id: int, owner: str) -> Incident:
    incident = get_incident(env, incident_id)
    owner = owner.strip().lstrip("@")
    if not owner:
        raise InputError("An owner needs a name.")
    if incident.owner == owner:
        return incident
    at = stamp(env, incident)
    previous = incident.owner
    incident.owner = owner
    if incident.responded_at is None:
        incident.responded_at = at
    text = (
        f"Owner changed from {previous} to {owner}"
        if previous
        else (f"Owner set to {owner}")
    )
    record(env, incident, "owner-assigned", text, at=at, owner=owner, previous=previous)
    return incident


def change_severity(
    env: DeskEnv, incident_id: int, severity: str, *, reason: str
) -> Incident:
    incident = get_incident(env, incident_id)
    new = _check_severity(severity)
    if not reason.strip():
        raise InputError("A severity change needs a reason.")
    if new == incident.severity:
        raise Conflict(f"Incident {incident_id} is already {new}.")
    previous = incident.severity
    incident.severity = new
    record(
        env,
        incident,
        "severity-changed",
        f"Severity {previous} → {new}: {reason.strip()}",
        previous=previous,
        severity=new,
        reason=reason.strip(),
    )
    return incident


def update_details(
    env: DeskEnv,
    incident_id: int,
    *,
    impact: str | None = None,
    services: list[str] | None = None,
    customer_facing: bool | None = None,
    users_affected_pct: float | None = None,
    root_cause: str | None = None,
    resolution: str | None = None,
    postmortem_at: datetime | None = None,
) -> Incident:
    incident = get_incident(env, incident_id)
    changes: dict[str, Any] = {}
    if services is not None:
        changes["services"] = _check_services(env, services)
    if users_affected_pct is not None and not 0 <= users_affected_pct <= 100:
        raise InputError("Percent of users affected must be between 0 and 100.")
    for name, value in (
        ("impact", impact),
        ("customer_facing", customer_facing),
        ("users_affected_pct", users_affected_pct),
        ("root_cause", root_cause),
        ("resolution", resolution),
        ("postmortem_at", postmortem_at),
    ):
        if value is not None:
            changes[name] = value.strip() if isinstance(value, str) else value
    changed = {k: v for k, v in changes.items() if getattr(incident, k) != v}
    if not changed:
        return incident
    for name, value in changed.items():
        setattr(incident, name, value)
    shown = ", ".join(sorted(changed))
    entry = record(env, incident, "details-changed", f"Updated {shown}")
    entry.data = {
        k: v.isoformat() if isinstance(v, datetime) else v for k, v in changed.items()
    }
    return incident


def add_note(env: DeskEnv, incident_id: int, text: str, *, kind: str = "note") -> None:
    incident = get_incident(env, incident_id)
    if not text.strip():
        raise InputError("A note needs text.")
    label = "Action item" if kind == "action-item" else "Note"
    record(env, incident, kind, f"{label}: {text.strip()}", text=text.strip())


def tick_item(
    env: DeskEnv, incident_id: int, item_id: str, *, note: str | None = None
) -> ChecklistTick:
    """Tick an item of the current phase's checklist (idempotent)."""
    incident = get_incident(env, incident_id)
    phase = env.policy.phase(incident.phase)
    if item_id not in {i.id for i in phase.checklist}:
        ids = ", ".join(i.id for i in phase.checklist) or "none"
        raise InputError(
            f"{item_id!r} is not on the {incident.phase} checklist (items: {ids})."
        )
    existing = env.session.scalar(
        select(ChecklistTick).where(
            ChecklistTick.incident_id == incident.id,
            ChecklistTick.phase == incident.phase,
            ChecklistTick.item_id == item_id,
        )
    )
    if existing is not None:
        return existing
    at = stamp(env, incident)
    tick = ChecklistTick(
        incident_id=incident.id,
        phase=incident.phase,
        item_id=item_id,
        ticked_by=env.actor,
        ticked_at=at,
        note=note,
    )
    env.session.add(tick)
    text = next(i.text for i in phase.checklist if i.id == item_id)
    record(
        env,
        incident,
        "checklist-ticked",
        f"[{incident.phase}] ✓ {text}",
        at=at,
        phase=incident.phase,
        item=item_id,
    )
    return tick


def untick_item(env: DeskEnv, incident_id: int, item_id: str) -> None:
    incident = get_incident(env, incident_id)
    tick = env.session.scalar(
        select(ChecklistTick).where(
            ChecklistTick.incident_id == incident.id,
            ChecklistTick.phase == incident.phase,
            ChecklistTick.item_id == item_id,
        )
    )
    if tick is None:
        raise Conflict(f"{item_id!r} is not ticked on the {incident.phase} checklist.")
    env.session.delete(tick)
    record(
        env,
        incident,
        "checklist-unticked",
        f"[{incident.phase}] unticked {item_id}",
        phase=incident.phase,
        item=item_id,
    )


def move_to_phase(
    env: DeskEnv,
    incident_id: int,
    target: str | None = None,
    *,
    force: bool = False,
    reason: str | None = None,
) -> Incident:
    """Advance to the next phase (or ``target``), guarding checklists and order."""
    incident = get_incident(env, incident_id)
    current = PHASES.index(incident.phase)
    if target is None:
        if current == len(PHASES) - 1:
            raise Conflict(f"Incident {incident_id} is in REVIEW, the last phase.")
        goal = current + 1
    else:
        name = target.upper()
        if name not in PHASES:
            raise InputError(f"Phase {target!r} is not one of {', '.join(PHASES)}.")
        goal = PHASES.index(name)
    if goal == current:
        raise Conflict(f"Incident {incident_id} is already in {incident.phase}.")
    if goal < current:
        raise Conflict(
            f"Incident {incident_id} cannot go back from {incident.phase} to "
            f"{PHASES[goal]}; phases only move forward."
        )
    problems = _leaving_problems(env, incident, goal)
    if problems and not force:
        raise ChecklistIncomplete(
            " ".join(problems) + " Tick them, or pass --force (recorded).",
            detail={"problems": problems},
        )
    _enter(env, incident, PHASES[goal], forced=problems, reason=reason)
    return incident


def _leaving_problems(env: DeskEnv, incident: Incident, goal: int) -> list[str]:
    problems = []
    view = checklist_view(env.policy, incident, env.session)
    missing = [i.id for i in view.open_items]
    if missing:
        problems.append(
            f"The {incident.phase} checklist has {len(missing)} unticked "
            f"item{'s' if len(missing) > 1 else ''}: {', '.join(missing)}."
        )
    skipped = PHASES[PHASES.index(incident.phase) + 1 : goal]
    if skipped:
        problems.append(f"Moving to {PHASES[goal]} skips {', '.join(skipped)}.")
    return problems


def _enter(
    env: DeskEnv,
    incident: Incident,
    phase: str,
    *,
    forced: list[str],
    reason: str | None,
) -> None:
    at = stamp(env, incident)
    previous = incident.phase
    incident.phase = phase
    incident.phase_entered_at = at
    if incident.responded_at is None:
        incident.responded_at = at
    if phase == "REVIEW" and incident.resolved_at is None:
        incident.resolved_at = at
    kind = "phase-forced" if forced else "phase-changed"
    text = f"Phase {previous} → {phase}"
    if forced:
        text += " (forced: " + " ".join(forced) + ")"
    if reason:
        text += f" — {reason}"
    record(
        env,
        incident,
        kind,
        text,
        at=at,
        previous=previous,
        phase=phase,
        forced=forced,
        reason=reason,
    )
    if phase == "REVIEW":
        record(env, incident, "resolved", "Incident resolved", at=at)
        from mgops.oncall.paging import close_pages

        close_pages(env.session, incident.id, at)


def resolve_incident(
    env: DeskEnv,
    incident_id: int,
    *,
    root_cause: str | None = None,
    resolution: str | None = None,
    force: bool = False,
) -> Incident:
    """Leave RESOLVE for REVIEW: impact has ended and the fix is verified."""
    incident = get_incident(env, incident_id)
    if incident.resolved_at is not None:
        raise Conflict(f"Incident {incident_id} was already resolved.")
    if incident.phase != "RESOLVE" and not force:
        raise Conflict(
            f"Incident {incident_id} is in {incident.phase}; it is resolved from "
            "RESOLVE. Advance it first, or pass --force (recorded)."
        )
    update_details(env, incident_id, root_cause=root_cause, resolution=resolution)
    return move_to_phase(env, incident_id, "REVIEW", force=force)


def close_incident(env: DeskEnv, incident_id: int, *, force: bool = False) -> Incident:
    incident = get_incident(env, incident_id)
    if incident.phase != "REVIEW":
        raise Conflict(
            f"Incident {incident_id} is in {incident.phase}; only a "
            "reviewed incident can be closed."
        )
    if incident.closed_at is not None:
        raise Conflict(f"Incident {incident_id} is already closed.")
    missing = [
        i.id for i in checklist_view(env.policy, incident, env.session).open_items
    ]
    if missing and not force:
        raise ChecklistIncomplete(
            f"The REVIEW checklist has unticked items: {', '.join(missing)}. "
            "Tick them, or pass --force (recorded)."
        )
    at = stamp(env, incident)
    incident.closed_at = at
    text = "Incident closed" + (
        f" (forced: {', '.join(missing)} unticked)" if missing else ""
    )
    record(env, incident, "closed", text, at=at, forced=missing)
    return incident


def list_incidents(
    env: DeskEnv,
    *,
    phase: str | None = None,
    severity: str | None = None,
    open_only: bool = False,
    limit: int = 200,
) -> list[Incident]:
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if phase:
        if phase.upper() not in PHASES:
            raise InputError(f"Phase {phase!r} is not one of {', '.join(PHASES)}.")
        query = query.where(Incident.phase == phase.upper())
    if severity:
        query = query.where(Incident.severity == _check_severity(severity))
    if open_only:
        query = query.where(Incident.resolved_at.is_(None))
    return list(env.session.scalars(query))
