"""Delivering the outbox: claim, send outside the transaction, record, retry.

A message is claimed by moving it to ``sending`` with a lease, in its own short
transaction (``SKIP LOCKED`` on PostgreSQL), then sent with no transaction
open, then marked ``sent`` — or put back with an exponential backoff, or
``failed`` when the channel says retrying cannot help. A worker that dies while
sending leaves the lease to run out; the message is then sent again. That small
window is the only way a message can repeat; a message is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mgops.clock import Clock
from mgops.notify.channels import Channels, DeliveryError, Message
from mgops.oncall.paging_models import Notification
from mgops.store.db import Store

logger = logging.getLogger("mgops.outbox")

LEASE = timedelta(seconds=60)
MAX_BACKOFF = 300
MAX_ATTEMPTS = 12


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    latencies: list[float] | None = None


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), MAX_BACKOFF))


def _claim(store: Store, now: datetime, limit: int) -> list[Message]:
    with store.session() as session:
        query = (
            select(Notification)
            .where(
                or_(
                    (Notification.status == "pending")
                    & (Notification.next_attempt_at <= now),
                    (Notification.status == "sending")
                    & (Notification.lease_until <= now),
                )
            )
            .order_by(Notification.next_attempt_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = []
        for row in session.scalars(query):
            row.status, row.lease_until = "sending", now + LEASE
            claimed.append(
                Message(
                    id=row.id,
                    person=row.person,
                    channel=row.channel,
                    destination=row.destination,
                    subject=row.subject,
                    text=row.text,
                    kind=row.kind,
                    page_id=row.page_id,
                    incident_id=row.incident_id,
                )
            )
        return claimed


def deliver_due(
    store: Store,
    channels: Channels,
    clock: Clock,
    *,
    limit: int = 100,
    ack_url: Callable[[int], str | None] = lambda _page: None,
) -> DeliveryReport:
    report = DeliveryReport(latencies=[])
    outcomes: list[tuple[Message, DeliveryError | None]] = []
    for message in _claim(store, clock.now(), limit):
        if message.page_id is not None:
            message = Message(
                **{**message.__dict__, "ack_url": ack_url(message.page_id)}
            )
        error: DeliveryError | None = None
        try:
            channels.for_kind(message.channel).send(message)
        except DeliveryError as exc:
            error = exc
        outcomes.append((message, error))
    # One transaction records the whole batch; a crash before it leaves the
    # leases to expire and the messages to go again (never lost).
    with store.session() as session:
        for message, error in outcomes:
            _record(session, clock, message, error, report)
    return report


def _record(
    session: Session,
    clock: Clock,
    message: Message,
    error: DeliveryError | None,
    report: DeliveryReport,
) -> None:
    row = session.get(Notification, message.id)
    if row is None:  # pragma: no cover - rows are never deleted
        return
    now = clock.now()
    row.attempts += 1
    row.lease_until = None
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", now, None
        report.sent += 1
        assert report.latencies is not None
        report.latencies.append((now - row.created_at).total_seconds())
        logger.info(
            "notification sent",
            extra={
                "notificationId": row.id,
                "channel": row.channel,
                "userId": row.person,
                "pageId": row.page_id,
                "latencyMs": round((now - row.created_at).total_seconds() * 1000, 1),
            },
        )
        return
    row.last_error = str(error)
    if error.permanent or row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
        report.failed += 1
        logger.error(
            "notification failed",
            extra={
                "notificationId": row.id,
                "channel": row.channel,
                "error": str(error),
            },
        )
    else:
        row.status = "pending"
        row.next_attempt_at = now + backoff(row.attempts)
        report.retried += 1
        logger.warning(
            "notification will be retried",
            extra={
                "notificationId": row.id,
                "channel": row.channel,
                "error": str(error),
                "attempts": row.attempts,
            },
        )
