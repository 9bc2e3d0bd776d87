"""Paging under load: event-to-first-notification latency and timer lateness.

    .venv/bin/python bench/paging.py [--rate 200] [--seconds 10] [--pages 10000]
                                     [--new-every 10] [--together]
                                     [--backend sqlite|postgres|both]

Two measurements per store backend, each against a real ``mgops serve`` process
(API, intake and the worker in one process, as ``make run`` starts it):

1. Intake: Events v2 triggers at ``--rate`` per second for ``--seconds``. Every
   ``--new-every``-th event opens an incident and pages the primary; the others
   repeat an open alert. Latency runs from the instant an event was due to be
   sent (open loop: a sender that falls behind counts against the server, and
   its own lag is reported) to the moment the outbox records the primary's first
   notification as sent (console channel, so no network peer adds noise). The
   server's CPU time per event is read from ``/proc``.
2. Timers: ``--pages`` open pages whose first step falls due over ``--spread``
   seconds (20) after the events or, with ``--together``, from two seconds into
   them, written straight into the store; the worker fires them. Lateness is
   ``fired_at - due_at`` per timer.

PostgreSQL is a real server this script starts on loopback (it needs the
``postgresql-15`` package). Results print as a Markdown table for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, start_postgres, wait_for_port  # noqa: E402

from mgops.access import create_integration, create_token  # noqa: E402
from mgops.clock import SYSTEM_CLOCK  # noqa: E402
from mgops.oncall.paging_models import Notification, Page, Timer  # noqa: E402
from mgops.oncall.service import ensure_seeded  # noqa: E402
from mgops.policy import default_policy  # noqa: E402
from mgops.store.db import Store  # noqa: E402
from mgops.store.models import AlertGroup  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MGOPS_DATABASE_URL": url, "MGOPS_EVENTS_PER_MINUTE": "0"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mgops",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, timeout=60)
    return process


lags: list[float] = []


async def send_events(
    base: str, key: str, rate: int, seconds: int, new_every: int, senders: int
) -> dict[str, float]:
    """Open-loop sender: each event is due at its own instant, whatever came back.

    ``senders`` workers share a pool of as many connections and take events in
    order; an event's latency starts at the instant it was due, so time spent
    waiting for a free connection counts. aiohttp rather than httpx: on two
    cores shared with the server, the sender's own CPU time shows up as lag.
    """
    sent: dict[str, float] = {}
    lags.clear()
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    connector = aiohttp.TCPConnector(limit=senders)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        base, connector=connector, timeout=timeout
    ) as client:

        async def sender() -> None:
            while (item := await queue.get()) is not None:
                n, due = item
                # Every ``new_every``-th event opens an incident; the others repeat
                # an alert that is already open, as a flapping or re-sent alert does.
                fresh = n % new_every == 0
                dedup = f"bench-{n if fresh else n - n % new_every}"
                if fresh:
                    sent[dedup] = due
                    lags.append(time.time() - due)  # the sender's own delay
                body = {
                    "routing_key": key,
                    "event_action": "trigger",
                    "dedup_key": dedup,
                    "payload": {
                        "summary": f"bench outage {n}",
                        "source": "bench",
                        "severity": "critical",
                    },
                }
                async with client.post("/v2/enqueue", json=body) as response:
                    response.raise_for_status()
                    await response.read()

        workers = [asyncio.create_task(sender()) for _ in range(senders)]
        start_wall, start = time.time(), time.monotonic()
        for n in range(rate * seconds):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((n, start_wall + n / rate))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
    return sent


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def intake_latencies(store: Store, sent: dict[str, float], wait: float) -> list[float]:
    deadline = time.monotonic() + wait
    latencies: list[float] = []
    while time.monotonic() < deadline:
        with store.session() as session:
            rows = session.execute(
                select(AlertGroup.group_key, func.min(Notification.sent_at))
                .join(Notification, Notification.incident_id == AlertGroup.incident_id)
                .where(Notification.status == "sent")
                .group_by(AlertGroup.group_key)
            ).all()
        if len(rows) >= len(sent):
            break
        time.sleep(0.5)
    for key, sent_at in rows:
        if key in sent and sent_at is not None:
            latencies.append(sent_at.timestamp() - sent[key])
    return latencies


def seed_timers(store: Store, count: int, spread: float, delay: float = 5) -> None:
    """``count`` open pages whose first step falls due over ``spread`` seconds."""
    now = SYSTEM_CLOCK.now()
    with store.session() as session:
        ensure_seeded(session, default_policy(), now=now)
        pages = [
            {
                "person": "engineer-a",
                "level": 0,
                "mode": "page",
                "reason": "bench",
                "status": "open",
                "created_at": now,
                "ack_deadline": now + timedelta(hours=1),
            }
            for _ in range(count)
        ]
        session.execute(insert(Page), pages)
        ids = list(session.scalars(select(Page.id).where(Page.reason == "bench")))
        due0 = now + timedelta(seconds=delay)
        session.execute(
            insert(Timer),
            [
                {
                    "dedup_key": f"bench:{pid}",
                    "kind": "notify",
                    "page_id": pid,
                    "step": 0,
                    "due_at": due0 + timedelta(seconds=spread * i / count),
                    "status": "pending",
                    "data": {"contact": "console"},
                }
                for i, pid in enumerate(ids)
            ],
        )


def timer_lateness(store: Store, count: int, wait: float) -> list[float]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with store.session() as session:
            left = session.scalar(
                select(func.count())
                .select_from(Timer)
                .where(Timer.dedup_key.like("bench:%"), Timer.status == "pending")
            )
        if not left:
            break
        time.sleep(0.5)
    with store.session() as session:
        rows = session.execute(
            select(Timer.due_at, Timer.fired_at).where(
                Timer.dedup_key.like("bench:%"), Timer.fired_at.is_not(None)
            )
        ).all()
    return [(fired - due).total_seconds() for due, fired in rows]


def run_backend(
    name: str, url: str, args: argparse.Namespace, work: Path
) -> dict[str, object]:
    store = Store(url)
    with store.session() as session:
        create_token(session, name="bench", role="admin", now=SYSTEM_CLOCK.now())
        _, key = create_integration(
            session, name="bench", kind="events-v2", now=SYSTEM_CLOCK.now()
        )
    port = free_port()
    server = serve(url, port, work / f"serve-{name}.log")
    try:
        if args.together:
            # The pages' steps fall due while the events arrive.
            seed_timers(store, args.pages, spread=args.spread, delay=2)
        started, cpu_before = time.monotonic(), cpu_seconds(server.pid)
        sent = asyncio.run(
            send_events(
                f"http://127.0.0.1:{port}",
                key,
                args.rate,
                args.seconds,
                args.new_every,
                args.senders,
            )
        )
        achieved = args.rate * args.seconds / (time.monotonic() - started)
        latencies = intake_latencies(store, sent, wait=120)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        if not args.together:
            seed_timers(store, args.pages, spread=args.spread)
        lateness = timer_lateness(store, args.pages, wait=180)
    finally:
        server.terminate()
        server.wait(timeout=30)
        store.dispose()
    return {
        "backend": name,
        "events": args.rate * args.seconds,
        "rate": achieved,
        "cpu_ms": 1000 * cpu_used / (args.rate * args.seconds),
        "lag_p99": percentile(lags, 99),
        "paged": len(latencies),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": percentile(latencies, 99),
        "timers": len(lateness),
        "late_p50": statistics.median(lateness) if lateness else float("nan"),
        "late_p99": percentile(lateness, 99),
        "late_max": max(lateness, default=float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument(
        "--new-every",
        type=int,
        default=1,
        help="1: every event opens an incident; 10: one in ten does",
    )
    parser.add_argument(
        "--spread",
        type=float,
        default=20,
        help="seconds over which the pages' first steps fall due",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="the pages' steps fall due during the events, not after them",
    )
    parser.add_argument(
        "--senders",
        type=int,
        default=32,
        help="connections the sender keeps open (Alertmanager-like senders)",
    )
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mgops-bench-paging-"))
    results = []
    if args.backend in ("sqlite", "both"):
        results.append(
            run_backend("SQLite", f"sqlite:///{work / 'bench.db'}", args, work)
        )
    if args.backend in ("postgres", "both"):
        server = start_postgres()
        try:
            url = "postgresql+psycopg://" + server.url.split("://", 1)[1]
            results.append(run_backend("PostgreSQL", url, args, work))
        finally:
            server.stop()
    print(
        "| store | events sent (rate/s) | sender lag p99 | server CPU per event | "
        "first page p50 / p99 (s) | timers fired | lateness p50 / p99 / max (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['backend']} | {r['events']} ({r['rate']:.0f}/s) | "
            f"{r['lag_p99']:.3f} s | "
            f"{r['cpu_ms']:.1f} ms | "
            f"{r['p50']:.3f} / {r['p99']:.3f} ({r['paged']} paged) | {r['timers']} | "
            f"{r['late_p50']:.3f} / {r['late_p99']:.3f} / {r['late_max']:.3f} |"
        )
    print(f"\nlogs in {work}")


if __name__ == "__main__":
    main()
