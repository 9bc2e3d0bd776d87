"""The worker as a process: killed mid-wait it fires once; two never double-fire."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select

from mgops.clock import SYSTEM_CLOCK, ManualClock
from mgops.incidents.desk import LocalDesk
from mgops.incidents.requests import DeclareRequest
from mgops.oncall.paging_models import Page, Timer
from mgops.policy import Policy
from mgops.store.db import Store
from tests.oncall.paging_fixtures import paging_policy


def write_policy(policy: Policy, path: Path) -> Path:
    path.write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
    return path


def start_worker(
    db_url: str, policy_file: Path, *extra: str
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MGOPS_DATABASE_URL": db_url, "MGOPS_POLICY": str(policy_file)}
    return subprocess.Popen(
        [sys.executable, "-m", "mgops", "worker", "--interval", "0.2", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def count(store: Store, query: object) -> int:
    with store.session() as session:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]


def escalations(store: Store) -> int:
    return count(store, select(func.count()).select_from(Page).where(Page.level == 1))


def wait_for(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)


class TestCrash:
    def test_killed_mid_wait_fires_once_after_restart(self, tmp_path: Path) -> None:
        """kill -9 while a step waits; restarted, it fires once, within seconds."""
        policy = paging_policy(level1_seconds=4)
        url = f"sqlite:///{tmp_path / 'crash.db'}"
        store = Store(url)
        LocalDesk(store, policy, SYSTEM_CLOCK, "alice").declare(
            DeclareRequest(title="Sync down", severity="P1")
        )
        policy_file = write_policy(policy, tmp_path / "policy.yaml")

        first = start_worker(url, policy_file)
        time.sleep(2)
        first.send_signal(signal.SIGKILL)
        first.wait()
        before = escalations(store)
        time.sleep(3)  # the deadline passes while no worker runs
        started = time.monotonic()
        second = start_worker(url, policy_file)
        try:
            wait_for(lambda: escalations(store) > 0, 20)
            took = time.monotonic() - started
            time.sleep(1.5)
            after = escalations(store)
        finally:
            second.terminate()
            second.wait(timeout=10)

        assert 0 == before
        assert 1 == after
        assert took < 10


class TestTwoWorkers:
    def test_two_workers_on_postgres_fire_each_step_once(
        self, postgres_db: str, tmp_path: Path
    ) -> None:
        """Two worker processes race over 40 due escalations: each fires once."""
        policy = paging_policy()
        url = "postgresql+psycopg://" + postgres_db.split("://", 1)[1]
        store = Store(url)
        past = ManualClock(SYSTEM_CLOCK.now() - timedelta(hours=1))
        desk = LocalDesk(store, policy, past, "alice")
        for n in range(40):
            desk.declare(DeclareRequest(title=f"Outage {n}", severity="P1"))
        policy_file = write_policy(policy, tmp_path / "policy.yaml")

        workers = [start_worker(url, policy_file, "--batch", "3") for _ in range(2)]
        try:
            wait_for(
                lambda: (
                    count(
                        store,
                        select(func.count())
                        .select_from(Timer)
                        .where(Timer.kind == "escalate", Timer.status == "pending"),
                    )
                    == 0
                ),
                150,
            )
            time.sleep(1)
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=10)

        fired = count(
            store,
            select(func.count())
            .select_from(Timer)
            .where(Timer.kind == "escalate", Timer.status == "fired"),
        )
        assert 40 == fired
        assert 40 == escalations(store)
        store.dispose()
