"""Firing due timers: the worker's half of paging.

``fire_due`` claims timers whose deadline has passed, with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL so two workers never take the same row (SQLite
serialises writers instead), marks each fired in the same transaction as the
work it causes, and commits. A timer is therefore fired once: a crash before
the commit leaves it pending for the next worker, a crash after leaves it done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mgops.clock import Clock
from mgops.errors import NotFound
from mgops.incidents.clocks import next_update_due
from mgops.incidents.comms import render_comms
from mgops.incidents.lifecycle import DeskEnv, record
from mgops.oncall.paging import (
    CLOSED,
    _level,
    enqueue,
    next_in_window,
    open_page,
    targets_for_level,
)
from mgops.oncall.paging_models import Page, Timer
from mgops.oncall.people import escalation_contacts, get_person
from mgops.policy.schema import Policy
from mgops.store.db import Store
from mgops.store.models import Incident

logger = logging.getLogger("mgops.worker")

LinkMaker = Callable[[int], str | None]


@dataclass
class FireReport:
    fired: int = 0
    skipped: int = 0
    lateness: list[float] | None = None


def _claim(session: Session, now: datetime, limit: int) -> list[Timer]:
    query = (
        select(Timer)
        .where(Timer.status == "pending", Timer.due_at <= now)
        .order_by(Timer.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def next_deadline(store: Store) -> datetime | None:
    """The earliest pending timer's deadline, if any."""
    with store.session() as session:
        return session.scalar(
            select(func.min(Timer.due_at)).where(Timer.status == "pending")
        )


def fire_due(
    store: Store,
    policy: Policy,
    clock: Clock,
    *,
    limit: int = 200,
    link: LinkMaker = lambda _page: None,
) -> FireReport:
    report = FireReport(lateness=[])
    with store.session() as session:
        now = clock.now()
        env = DeskEnv(session, policy, clock, "mgops")
        timers = _claim(session, now, limit)
        # Load the batch's pages in one query; _fire then finds them in the session.
        page_ids = [t.page_id for t in timers if t.page_id is not None]
        if page_ids:
            list(session.scalars(select(Page).where(Page.id.in_(page_ids))))
        for timer in timers:
            if _fire(env, timer, now, link):
                report.fired += 1
                assert report.lateness is not None
                report.lateness.append((now - timer.due_at).total_seconds())
            else:
                report.skipped += 1
    return report


def _fire(env: DeskEnv, timer: Timer, now: datetime, link: LinkMaker) -> bool:
    """Do what the timer stands for; False when it no longer applies."""
    page = env.session.get(Page, timer.page_id) if timer.page_id else None
    incident = (
        env.session.get(Incident, timer.incident_id) if timer.incident_id else None
    )
    if incident is not None and incident.resolved_at is not None:
        timer.status, timer.fired_at = "cancelled", now
        return False
    if page is not None and page.status in CLOSED:
        timer.status, timer.fired_at = "cancelled", now
        return False
    if timer.kind == "escalate":
        spec = _level(env.policy, timer.step)
        opens = next_in_window(now, spec.window if spec else None)
        if opens > now:
            timer.due_at = opens  # outside the level's hours: wait for them
            return False
    timer.status, timer.fired_at = "fired", now
    handler = {
        "notify": _notify,
        "escalate": _escalate,
        "level": _incident_level,
        "notice": _notice,
    }.get(timer.kind)
    if handler is None:
        logger.error(
            "unknown timer kind", extra={"timerId": timer.id, "kind": timer.kind}
        )
        return False
    handler(env, timer, page, incident, now, link)
    return True


def message_for(
    env: DeskEnv, incident: Incident | None, page: Page | None, link: LinkMaker
) -> tuple[str, str]:
    if incident is None:
        subject = "mgops test page"
        text = "This is a test page from mgops. Acknowledge it to finish the test."
    else:
        subject = f"[{incident.severity}] Incident #{incident.id}: {incident.title}"
        text = render_comms(incident, env.policy, "declaration").text
    if page is not None:
        url = link(page.id)
        text += (
            f"\n\nAcknowledge: {url}"
            if url
            else (f"\n\nAcknowledge: mgops page ack {page.id}")
        )
    return subject, text


def _destination(env: DeskEnv, person: str, contact: str) -> tuple[str, str]:
    """(channel, address) for a contact kind; console when the person lacks it."""
    if contact == "console":
        return "console", person
    address = get_person(env.session, person).contact(contact)
    return (contact, address) if address else ("console", person)


def _notify(
    env: DeskEnv,
    timer: Timer,
    page: Page | None,
    incident: Incident | None,
    now: datetime,
    link: LinkMaker,
) -> None:
    assert page is not None
    channel, address = _destination(
        env, page.person, timer.data.get("contact", "console")
    )
    subject, text = message_for(env, incident, page, link)
    enqueue(
        env.session,
        key=f"page:{page.id}:step:{timer.step}:{channel}:{address}",
        kind="page" if page.mode == "page" else "alert",
        person=page.person,
        channel=channel,
        destination=address,
        subject=subject,
        text=text,
        now=now,
        page_id=page.id,
        incident_id=page.incident_id,
        step=timer.step,
    )


def _escalate(
    env: DeskEnv,
    timer: Timer,
    page: Page | None,
    incident: Incident | None,
    now: datetime,
    link: LinkMaker,
) -> None:
    assert page is not None
    targets = targets_for_level(env, incident, timer.step, now)
    if incident is not None:
        record(
            env,
            incident,
            "escalated",
            f"No acknowledgement from {page.person} by the deadline: escalating "
            f"to level {timer.step}",
            actor="mgops",
            page_id=page.id,
        )
    for target in targets:
        if target.person == page.person:
            continue
        open_page(
            env,
            incident,
            target,
            level=timer.step,
            mode="page",
            chain_id=page.chain_id,
            reason=f"Escalated: {page.person} did not acknowledge",
        )


def _incident_level(
    env: DeskEnv,
    timer: Timer,
    page: Page | None,
    incident: Incident | None,
    now: datetime,
    link: LinkMaker,
) -> None:
    assert incident is not None
    spec = _level(env.policy, timer.step)
    for target in targets_for_level(env, incident, timer.step, now):
        open_page(
            env,
            incident,
            target,
            level=timer.step,
            mode="page",
            reason=f"{spec.name}: {spec.when}" if spec else "Escalation",
        )


def _notice(
    env: DeskEnv,
    timer: Timer,
    page: Page | None,
    incident: Incident | None,
    now: datetime,
    link: LinkMaker,
) -> None:
    assert incident is not None
    role = timer.data.get("role", "")
    subject, text = message_for(env, incident, None, link)
    people = escalation_contacts(env.session, role) if role != "backlog" else []
    for person in people:
        channel, address = _destination(env, person.handle, _first_contact(person))
        enqueue(
            env.session,
            key=f"incident:{incident.id}:notice:{role}:{address}",
            kind="notice",
            person=person.handle,
            channel=channel,
            destination=address,
            subject=f"{timer.data.get('text', '')}: {subject}",
            text=text,
            now=now,
            incident_id=incident.id,
        )
    record(
        env,
        incident,
        "notice",
        f"{timer.data.get('text', role)}: told "
        + (", ".join(p.handle for p in people) or "nobody (no one holds the role)"),
        actor="mgops",
    )


def _first_contact(person: object) -> str:
    contacts = getattr(person, "contacts", [])
    return contacts[0]["kind"] if contacts else "console"


def remind_overdue_updates(
    store: Store, policy: Policy, clock: Clock, link: LinkMaker = lambda _p: None
) -> int:
    """Remind the owner (or the primary) of each incident whose update is overdue."""
    sent = 0
    with store.session() as session:
        now = clock.now()
        env = DeskEnv(session, policy, clock, "mgops")
        for incident in session.scalars(
            select(Incident).where(Incident.resolved_at.is_(None))
        ):
            due = next_update_due(incident, policy)
            if due is None or due > now:
                continue
            # An owner typed as free text is nobody mgops can reach: remind the
            # primary on call instead of "sending" to no one.
            owner = (
                incident.owner
                if incident.owner and _known(env, incident.owner)
                else None
            )
            person = owner or _primary(env, incident, now)
            if person is None:
                continue
            channel, address = _destination(env, person, _preferred(env, person))
            if enqueue(
                session,
                key=f"reminder:{incident.id}:{due.isoformat()}:{address}",
                kind="reminder",
                person=person,
                channel=channel,
                destination=address,
                subject=f"[{incident.severity}] Status update overdue: #{incident.id}",
                text=(
                    f"The status update for incident #{incident.id} "
                    f"({incident.title}) was due at {due:%H:%M} UTC. Post one: "
                    f"mgops incident update {incident.id} --state … --know … "
                    "--doing …"
                ),
                now=now,
                incident_id=incident.id,
            ):
                sent += 1
                record(
                    env,
                    incident,
                    "update-reminder",
                    f"Status update overdue since {due:%H:%M} UTC: reminded {person}",
                    actor="mgops",
                )
    return sent


def _primary(env: DeskEnv, incident: Incident, now: datetime) -> str | None:
    targets = targets_for_level(env, incident, 0, now)
    return targets[0].person if targets else None


def _known(env: DeskEnv, person: str) -> bool:
    try:
        get_person(env.session, person)
    except NotFound:  # an owner may be a free-text name
        return False
    return True


def _preferred(env: DeskEnv, person: str) -> str:
    from mgops.oncall.paging import notification_steps

    steps = notification_steps(env.session, env.policy, person)
    return steps[0][0] if steps else "console"


__all__ = ["FireReport", "fire_due", "next_deadline", "remind_overdue_updates"]
