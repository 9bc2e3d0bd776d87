"""How fast is "who is on call?": from the store, and from a loaded state.

    .venv/bin/python bench/oncall_lookup.py [--calls 2000] [--overrides 200]

Seeds a temporary SQLite store with the built-in policy plus R4 (Berlin) and a
number of overrides, then times ``who_is_on_call`` through a session (what a
route or the worker does once per step) and through a ``ScheduleState`` loaded
once (what a loop over many pages should do). Prints per-call times and ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mgops.oncall import service
from mgops.oncall.schedule import on_call_at, timeline
from mgops.policy import default_policy
from mgops.store.db import Store

NOW = datetime(2026, 3, 18, 11, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--overrides", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        with store.session() as session:
            service.ensure_seeded(session, default_policy(), now=NOW)
            for i in range(args.overrides):
                service.add_override(
                    session,
                    None,
                    person="engineer-a",
                    covers="engineer-c",
                    starts_at=NOW + timedelta(hours=6 * i),
                    ends_at=NOW + timedelta(hours=6 * i + 2),
                    actor="bench",
                    now=NOW,
                )
        instants = [NOW + timedelta(minutes=7 * i) for i in range(args.calls)]

        with store.session() as session:
            started = time.perf_counter()
            for at in instants:
                service.who_is_on_call(session, None, at)
            per_session = (time.perf_counter() - started) / args.calls
            state = service.load_state(session, None)
        store.dispose()

    started = time.perf_counter()
    for at in instants:
        on_call_at(state, at)
    per_state = (time.perf_counter() - started) / args.calls

    started = time.perf_counter()
    segments = timeline(state, NOW, NOW + timedelta(days=365))
    year = time.perf_counter() - started

    print(f"who_is_on_call via session: {per_session * 1e3:.3f} ms/call")
    print(f"who_is_on_call via state:   {per_state * 1e3:.3f} ms/call")
    print(f"ratio session/state:        {per_session / per_state:.1f}x")
    print(f"one year timeline: {len(segments)} segments, {year * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
