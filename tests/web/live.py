"""A real mgops server in a background thread on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from mgops.clock import SYSTEM_CLOCK, Clock
from mgops.policy import Policy
from mgops.store.db import Store
from mgops.web.app import create_app
from tests.servers import free_port


@contextmanager
def live_server(
    store: Store,
    policy: Policy,
    *,
    clock: Clock = SYSTEM_CLOCK,
    events_per_minute: int = 0,
    configure: Callable[[FastAPI], None] | None = None,
) -> Iterator[str]:
    """Serve ``create_app(...)``; ``configure`` may adjust the app before it starts."""
    port = free_port()
    app = create_app(store, policy, clock=clock, events_per_minute=events_per_minute)
    if configure is not None:
        configure(app)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
