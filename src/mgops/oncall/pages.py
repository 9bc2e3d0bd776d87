"""Pages as the API and CLI show them, and the desk-level paging operations."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from mgops.errors import NotFound
from mgops.incidents.lifecycle import DeskEnv
from mgops.oncall.paging import Target, acknowledge_page, escalate_incident, open_page
from mgops.oncall.paging_models import Notification, Page
from mgops.oncall.people import get_person
from mgops.oncall.service import ensure_seeded


class NotificationView(BaseModel):
    id: int
    kind: str
    step: int
    channel: str
    destination: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


class PageView(BaseModel):
    id: int
    chain_id: int | None
    incident_id: int | None
    person: str
    level: int
    mode: str
    reason: str
    status: str
    created_at: datetime
    ack_deadline: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    notifications: list[NotificationView] = []


def page_view(env: DeskEnv, page: Page) -> PageView:
    rows = env.session.scalars(
        select(Notification)
        .where(Notification.page_id == page.id)
        .order_by(Notification.id)
    )
    return PageView(
        id=page.id,
        chain_id=page.chain_id,
        incident_id=page.incident_id,
        person=page.person,
        level=page.level,
        mode=page.mode,
        reason=page.reason,
        status=page.status,
        created_at=page.created_at,
        ack_deadline=page.ack_deadline,
        acknowledged_at=page.acknowledged_at,
        acknowledged_by=page.acknowledged_by,
        notifications=[
            NotificationView.model_validate(n, from_attributes=True) for n in rows
        ],
    )


def list_pages(
    env: DeskEnv,
    *,
    open_only: bool = False,
    incident_id: int | None = None,
    person: str | None = None,
    limit: int = 200,
) -> list[PageView]:
    query = select(Page).order_by(Page.id.desc()).limit(limit)
    if open_only:
        query = query.where(Page.status == "open")
    if incident_id is not None:
        query = query.where(Page.incident_id == incident_id)
    if person:
        query = query.where(Page.person == person)
    return [page_view(env, p) for p in env.session.scalars(query)]


def show_page(env: DeskEnv, page_id: int) -> PageView:
    page = env.session.get(Page, page_id)
    if page is None:
        raise NotFound(f"Page {page_id} does not exist.")
    return page_view(env, page)


def ack(env: DeskEnv, page_id: int) -> PageView:
    return page_view(env, acknowledge_page(env, page_id))


def escalate(env: DeskEnv, incident_id: int, level: int | None) -> list[PageView]:
    return [page_view(env, p) for p in escalate_incident(env, incident_id, level)]


def test_page(env: DeskEnv, person: str) -> PageView:
    """Page someone with no incident: the hand-off's "test paging" step."""
    ensure_seeded(env.session, env.policy, now=env.clock.now())
    get_person(env.session, person)
    page = open_page(
        env,
        None,
        Target(person, "test"),
        level=0,
        mode="alert",
        reason=f"Test page requested by {env.actor}",
    )
    env.session.flush()
    return page_view(env, page)


def pages_in_shift(
    session: Session, schedule: str, start: datetime, end: datetime
) -> list[dict[str, object]]:
    """Pages sent during a shift, for the hand-off summary (any schedule's)."""
    rows = session.scalars(
        select(Page)
        .where(Page.created_at >= start, Page.created_at < end)
        .order_by(Page.id)
    )
    return [
        {
            "id": p.id,
            "incident_id": p.incident_id,
            "person": p.person,
            "level": p.level,
            "status": p.status,
            "created_at": p.created_at.isoformat(),
            "reason": p.reason,
        }
        for p in rows
    ]
