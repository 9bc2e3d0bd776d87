"""Paging: who is paged for an incident, how they are notified, how it escalates.

A page asks one person to respond by a deadline. The severity decides the mode
(policy ``severities[].paging``): P1 pages at once; P2 pages in business hours
and otherwise sends an alert (a notification without escalation); P3 alerts
only; P4 does nothing.

Everything that happens later is a timer row with a deadline and a unique key:

- ``notify``: step N of the paged person's notification rule (push, wait 60 s,
  SMS, …);
- ``escalate``: no acknowledgement by the deadline → the next level of the
  chain (level 1, the secondary, after the policy's 15 minutes). A level with
  a ``window`` waits for it to open;
- ``level``: incident-wide levels that fire while the incident stays open
  (level 3 after an hour, level 4 for P1 after 30 minutes);
- ``notice``: the severity's notification window (VP within 30 minutes for P1,
  tech lead within an hour for P2).

Acknowledging any page of a chain cancels every pending timer and undelivered
notification of the chain; it is refused (409) once the incident is resolved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mgops.errors import Conflict, InputError, NotFound
from mgops.incidents.lifecycle import DeskEnv, record
from mgops.incidents.targets import is_business_hours
from mgops.oncall.models import ContactMethod, Person
from mgops.oncall.paging_models import Notification, NotificationRule, Page, Timer
from mgops.oncall.people import CONTACT_KINDS, escalation_contacts, get_person
from mgops.oncall.service import ensure_seeded, who_is_on_call
from mgops.policy.schema import WEEKDAYS, EscalationLevel, Policy, Window
from mgops.store.models import Incident

logger = logging.getLogger("mgops.paging")

CLOSED = ("acknowledged", "resolved")


@dataclass(frozen=True)
class Target:
    person: str
    why: str


def _insert(session: Session, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def timer(
    *,
    key: str,
    kind: str,
    due_at: datetime,
    page_id: int | None = None,
    incident_id: int | None = None,
    step: int = 0,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One timer row for :func:`add_timers`; ``key`` makes it unique."""
    return {
        "dedup_key": key,
        "kind": kind,
        "due_at": due_at,
        "page_id": page_id,
        "incident_id": incident_id,
        "step": step,
        "status": "pending",
        "data": data or {},
    }


def add_timers(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert timers in one statement; a key that exists already is skipped."""
    if rows:
        session.execute(
            _insert(session, Timer)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
        )


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    person: str,
    channel: str,
    destination: str,
    subject: str,
    text: str,
    now: datetime,
    page_id: int | None = None,
    incident_id: int | None = None,
    step: int = 0,
) -> bool:
    """Put one message in the outbox unless its key is there already."""
    stmt = (
        _insert(session, Notification)
        .values(
            dedup_key=key[:300],
            kind=kind,
            person=person,
            channel=channel,
            destination=destination,
            subject=subject[:300],
            text=text,
            page_id=page_id,
            incident_id=incident_id,
            step=step,
            status="pending",
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Notification.id)
    )
    return session.execute(stmt).scalar() is not None


def notification_steps(
    session: Session, policy: Policy, person: str
) -> list[tuple[str, int]]:
    """The person's rule as (contact kind, seconds after the page)."""
    rows = session.scalars(
        select(NotificationRule)
        .where(NotificationRule.person == person)
        .order_by(NotificationRule.position)
    ).all()
    if rows:
        return [(r.contact, r.after_seconds) for r in rows]
    declared = policy.person(person)
    if declared is not None and declared.notify:
        return [(s.contact, s.after_seconds) for s in declared.notify]
    found = session.scalars(
        select(ContactMethod.kind)
        .join(Person, Person.id == ContactMethod.person_id)
        .where(Person.handle == person)
        .order_by(ContactMethod.id)
    ).all()
    if not found:
        get_person(session, person)  # says so when nobody has the handle
    kinds = list(dict.fromkeys(found)) or ["console"]
    return [(kind, 0) for kind in kinds]


def set_notification_rule(
    session: Session, person: str, steps: list[tuple[str, int]]
) -> None:
    get_person(session, person)
    if not steps:
        raise InputError("A notification rule needs at least one step.")
    for contact, after in steps:
        if contact not in CONTACT_KINDS:
            raise InputError(
                f"Contact kind {contact!r} is not one of {', '.join(CONTACT_KINDS)}."
            )
        if not 0 <= after <= 24 * 3600:
            raise InputError(
                "A step comes between 0 seconds and 24 hours after the page."
            )
    session.execute(delete(NotificationRule).where(NotificationRule.person == person))
    for position, (contact, after) in enumerate(steps):
        session.add(
            NotificationRule(
                person=person, position=position, contact=contact, after_seconds=after
            )
        )


def next_in_window(at: datetime, window: Window | None) -> datetime:
    """``at`` if the window is open then, else the window's next opening."""
    if window is None:
        return at
    zone = ZoneInfo(window.timezone)
    local = at.astimezone(zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in window.days:
            continue
        opens = datetime.combine(day, window.start, zone)
        closes = datetime.combine(day, window.end, zone)
        if offset == 0 and opens <= local < closes:
            return at
        if local < opens:
            return opens.astimezone(at.tzinfo)
    return at


def _level(policy: Policy, number: int) -> EscalationLevel | None:
    return next((lv for lv in policy.escalation_levels if lv.level == number), None)


def _domain(policy: Policy, incident: Incident) -> str | None:
    for name in incident.services:
        try:
            return policy.service(name).domain
        except KeyError:
            continue
    return None


def targets_for_level(
    env: DeskEnv, incident: Incident | None, level: int, now: datetime
) -> list[Target]:
    """Who a level reaches now: primary (0), secondary (1), then role holders."""
    if level in (0, 1):
        seed_once(env.session, env.policy, now)
        oncall = who_is_on_call(env.session, None, now)
        person = oncall.primary if level == 0 else oncall.secondary
        role = "primary" if level == 0 else "secondary"
        return [Target(person, f"{role} on call")] if person else []
    spec = _level(env.policy, level)
    if spec is None:
        return []
    domain = _domain(env.policy, incident) if incident is not None else None
    people = escalation_contacts(env.session, spec.target, domain=domain)
    return [Target(p.handle, spec.name) for p in people]


def paging_mode(policy: Policy, severity: str, now: datetime) -> str:
    mode = policy.severity(severity).paging.value
    if mode == "page-business-hours":
        return "page" if is_business_hours(now, policy) else "alert"
    return mode


_SEEDED: set[tuple[str, int]] = set()


def seed_once(session: Session, policy: Policy, now: datetime) -> None:
    """Seed the policy's people and rotations into this store, once per process."""
    key = (session.get_bind().engine.url.render_as_string(True), id(policy))
    if key not in _SEEDED:
        ensure_seeded(session, policy, now=now)
        # Only a committed seed counts: a rolled-back one is seeded again next time.
        event.listen(session, "after_commit", lambda _s: _SEEDED.add(key), once=True)


def page_for_incident(env: DeskEnv, incident: Incident) -> list[Page]:
    """Page the on-call for a new incident as its severity says; schedule the rest."""
    now = env.clock.now()
    seed_once(env.session, env.policy, now)
    mode = paging_mode(env.policy, incident.severity, now)
    if mode == "none":
        return []
    pages = []
    for target in targets_for_level(env, incident, 0, now) or targets_for_level(
        env, incident, 1, now
    ):
        pages.append(open_page(env, incident, target, level=0, mode=mode))
    if not pages:
        record(
            env,
            incident,
            "page-skipped",
            "Nobody is on call: no one was paged",
            actor="mgops",
        )
    if mode == "page":
        _schedule_incident_levels(env, incident, now)
    return pages


def open_page(
    env: DeskEnv,
    incident: Incident | None,
    target: Target,
    *,
    level: int,
    mode: str,
    chain_id: int | None = None,
    reason: str | None = None,
) -> Page:
    now = env.clock.now()
    next_level = _level(env.policy, level + 1) if level < 1 else None
    wait = next_level.delay_seconds() if next_level else None
    deadline = now + timedelta(seconds=wait) if (mode == "page" and wait) else None
    page = Page(
        chain_id=chain_id,
        incident_id=incident.id if incident else None,
        person=target.person,
        level=level,
        mode=mode,
        reason=reason or (incident.title if incident else "test page"),
        status="open",
        created_at=now,
        ack_deadline=deadline,
    )
    env.session.add(page)
    env.session.flush()
    if page.chain_id is None:
        page.chain_id = page.id
    timers = []
    for step, (contact, after) in enumerate(
        notification_steps(env.session, env.policy, target.person)
    ):
        if mode == "alert" and step > 0:
            break  # an alert is one message, no rule chain
        timers.append(
            timer(
                key=f"page:{page.id}:notify:{step}",
                kind="notify",
                page_id=page.id,
                incident_id=page.incident_id,
                step=step,
                due_at=now + timedelta(seconds=after),
                data={"contact": contact},
            )
        )
    if deadline is not None and next_level is not None:
        timers.append(
            timer(
                key=f"page:{page.id}:escalate:{level + 1}",
                kind="escalate",
                page_id=page.id,
                incident_id=page.incident_id,
                step=level + 1,
                due_at=next_in_window(deadline, next_level.window),
            )
        )
    add_timers(env.session, timers)
    if incident is not None:
        by = f", acknowledge by {deadline:%H:%M} UTC" if deadline else ""
        record(
            env,
            incident,
            "paged",
            f"{'Paged' if mode == 'page' else 'Alerted'} {target.person} "
            f"({target.why}){by}",
            actor="mgops",
            page_id=page.id,
            level=level,
            person=target.person,
            mode=mode,
        )
    return page


def _schedule_incident_levels(env: DeskEnv, incident: Incident, now: datetime) -> None:
    timers = []
    for spec in env.policy.escalation_levels:
        wait = spec.delay_seconds()
        if wait is None or spec.auto not in ("incident-open", "severity-open"):
            continue
        if spec.auto == "severity-open" and incident.severity not in spec.severities:
            continue
        timers.append(
            timer(
                key=f"incident:{incident.id}:level:{spec.level}",
                kind="level",
                incident_id=incident.id,
                step=spec.level,
                due_at=next_in_window(
                    incident.declared_at + timedelta(seconds=wait), spec.window
                ),
            )
        )
    notice = env.policy.severity(incident.severity).escalation
    if notice.within_minutes:
        timers.append(
            timer(
                key=f"incident:{incident.id}:notice:{notice.role}",
                kind="notice",
                incident_id=incident.id,
                due_at=incident.declared_at + timedelta(minutes=notice.within_minutes),
                data={"role": notice.role, "text": notice.text},
            )
        )
    add_timers(env.session, timers)


def close_pages(session: Session, incident_id: int, at: datetime) -> None:
    """An incident resolved: its open pages close, pending steps are cancelled."""
    pages = list(
        session.scalars(
            select(Page).where(Page.incident_id == incident_id, Page.status == "open")
        )
    )
    ids = [p.id for p in pages]
    for page in pages:
        page.status, page.closed_at = "resolved", at
    if ids:
        session.execute(
            update(Timer)
            .where(Timer.page_id.in_(ids), Timer.status == "pending")
            .values(status="cancelled")
        )
        session.execute(
            update(Notification)
            .where(Notification.page_id.in_(ids), Notification.status == "pending")
            .values(status="cancelled")
        )
    session.execute(
        update(Timer)
        .where(Timer.incident_id == incident_id, Timer.status == "pending")
        .values(status="cancelled")
    )


def _chain_pages(session: Session, page: Page) -> list[Page]:
    return list(session.scalars(select(Page).where(Page.chain_id == page.chain_id)))


def acknowledge_page(env: DeskEnv, page_id: int) -> Page:
    """Acknowledge a page: stop every pending step of its chain, at once."""
    page = env.session.get(Page, page_id, with_for_update=True)
    if page is None:
        raise NotFound(f"Page {page_id} does not exist.")
    incident = env.session.get(Incident, page.incident_id) if page.incident_id else None
    if page.status == "acknowledged":
        return page
    if page.status == "resolved" or (incident is not None and incident.resolved_at):
        raise Conflict(
            f"Page {page_id} is for an incident that is already resolved; "
            "there is nothing left to acknowledge."
        )
    now = env.clock.now()
    chain = _chain_pages(env.session, page)
    ids = [p.id for p in chain]
    for member in chain:
        if member.status == "open":
            member.status = "acknowledged"
            member.acknowledged_at = now
            member.acknowledged_by = env.actor
    env.session.execute(
        update(Timer)
        .where(Timer.page_id.in_(ids), Timer.status == "pending")
        .values(status="cancelled")
    )
    env.session.execute(
        update(Notification)
        .where(Notification.page_id.in_(ids), Notification.status == "pending")
        .values(status="cancelled")
    )
    if incident is not None:
        if incident.responded_at is None:
            incident.responded_at = now
        record(
            env,
            incident,
            "page-acknowledged",
            f"Page {page_id} acknowledged by {env.actor}; escalation stopped",
            page_id=page_id,
        )
    logger.info("page acknowledged", extra={"pageId": page_id, "userId": env.actor})
    return page


def escalate_incident(
    env: DeskEnv, incident_id: int, level: int | None = None
) -> list[Page]:
    """Manual escalation: page the given level (default: one above the highest)."""
    incident = env.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Incident {incident_id} does not exist.")
    if incident.resolved_at is not None:
        raise Conflict(f"Incident {incident_id} is resolved; nothing to escalate.")
    highest = max(
        (
            p.level
            for p in env.session.scalars(
                select(Page).where(Page.incident_id == incident_id)
            )
        ),
        default=0,
    )
    goal = level if level is not None else highest + 1
    if not 1 <= goal <= 5:
        raise InputError("Escalation levels run from 1 to 5.")
    now = env.clock.now()
    targets = targets_for_level(env, incident, goal, now)
    if not targets:
        spec = _level(env.policy, goal)
        raise Conflict(
            f"Nobody holds level {goal} ({spec.name if spec else '?'}); add people "
            "with that role: mgops person add … --role …"
        )
    return [
        open_page(
            env,
            incident,
            t,
            level=goal,
            mode="page",
            reason=f"Escalated to level {goal} by {env.actor}",
        )
        for t in targets
    ]
