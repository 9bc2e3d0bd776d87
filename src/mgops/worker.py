"""The worker: one loop that fires due timers, reminds, and delivers the outbox.

It runs inside ``mgops serve`` or alone as ``mgops worker``; several may run on
one PostgreSQL store (rows are claimed with ``SKIP LOCKED``). Nothing it waits
for lives in memory: killed and restarted, it finds every overdue deadline in
the store and fires it once.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mgops.clock import SYSTEM_CLOCK, Clock
from mgops.errors import StoreError
from mgops.notify.channels import Channels, build_channels
from mgops.notify.links import LinkSigner, server_secret
from mgops.notify.outbox import deliver_due
from mgops.oncall.timers import fire_due, next_deadline, remind_overdue_updates
from mgops.policy.schema import Policy
from mgops.store.db import Store

logger = logging.getLogger("mgops.worker")

MAX_ROUNDS = 10  # timer batches per tick before delivery gets its turn
REMINDER_SCAN_EVERY = timedelta(seconds=1)


def channels_from_env() -> Channels:
    return build_channels(
        smtp_url=os.environ.get("MGOPS_SMTP_URL"),
        smtp_from=os.environ.get("MGOPS_SMTP_FROM", "mgops@localhost"),
        webhook_secret=os.environ.get("MGOPS_WEBHOOK_SECRET"),
    )


@dataclass
class TickReport:
    fired: int = 0
    reminded: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    lateness: list[float] = field(default_factory=list)


@dataclass
class Worker:
    store: Store
    policy: Policy
    clock: Clock = SYSTEM_CLOCK
    channels: Channels = field(default_factory=channels_from_env)
    links: LinkSigner | None = None
    batch: int = 200
    _next_reminder_scan: datetime | None = field(default=None, init=False)

    def _link(self, page_id: int) -> str | None:
        return self.links.ack_url(page_id) if self.links else None

    def tick(self) -> TickReport:
        # Deadlines first: fire batches until nothing more is due (bounded), so
        # a burst of due steps is not held behind message delivery.
        fired_count, lateness = 0, []
        for _ in range(MAX_ROUNDS):
            fired = fire_due(
                self.store, self.policy, self.clock, limit=self.batch, link=self._link
            )
            fired_count += fired.fired
            lateness += fired.lateness or []
            if fired.fired + fired.skipped < self.batch:
                break
        reminded = 0
        now = self.clock.now()
        # Update reminders run on minute cadences: a scan of every open incident
        # once a second is plenty, however often deliveries wake the worker.
        if self._next_reminder_scan is None or now >= self._next_reminder_scan:
            reminded = remind_overdue_updates(self.store, self.policy, self.clock)
            self._next_reminder_scan = now + REMINDER_SCAN_EVERY
        delivered = deliver_due(
            self.store,
            self.channels,
            self.clock,
            limit=self.batch,
            ack_url=self._link,
        )
        return TickReport(
            fired=fired_count,
            reminded=reminded,
            sent=delivered.sent,
            retried=delivered.retried,
            failed=delivered.failed,
            lateness=lateness,
        )

    def _until_next_deadline(self, interval: float) -> float:
        try:
            due = next_deadline(self.store)
        except StoreError:  # the store hiccuped: poll on the interval instead
            return interval
        if due is None:
            return interval
        wait = (due - self.clock.now()).total_seconds()
        return min(interval, max(wait, 0.01))

    def run(
        self,
        stop: threading.Event,
        interval: float = 1.0,
        wake: threading.Event | None = None,
    ) -> None:
        """Tick every ``interval`` seconds, or at once when ``wake`` is set."""
        logger.info("worker started", extra={"interval": interval})
        while not stop.is_set():
            report = TickReport()
            try:
                report = self.tick()
                if report.fired or report.sent or report.failed or report.reminded:
                    logger.info("worker tick", extra=vars(report) | {"lateness": None})
            except Exception:
                logger.exception("worker tick failed")
            if report.fired >= self.batch:
                continue  # a backlog: go again at once
            # Sleep until the next deadline if it comes before the next tick, so a
            # step fires at its time rather than up to one interval late.
            pause = self._until_next_deadline(interval)
            if wake is None:
                stop.wait(pause)
            else:
                wake.wait(pause)
                wake.clear()
        logger.info("worker stopped")


def make_worker(
    store: Store,
    policy: Policy,
    clock: Clock = SYSTEM_CLOCK,
    public_url: str | None = None,
) -> Worker:
    base = os.environ.get("MGOPS_PUBLIC_URL") or public_url
    return Worker(
        store,
        policy,
        clock,
        channels_from_env(),
        LinkSigner(server_secret(store), base),
    )
