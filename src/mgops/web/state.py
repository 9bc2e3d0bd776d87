"""What every route reaches through ``request.app.state.mgops``."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from mgops.clock import Clock
from mgops.policy.schema import Policy
from mgops.store.batch import BatchWriter
from mgops.store.db import Store


class RateLimiter:
    """A sliding 60-second window of accepted events per key (0 means no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def retry_after(self, key: str) -> int:
        """0 when the event may pass (and is counted), else seconds to wait."""
        if self.per_minute <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            if now - self._swept >= 60:
                self._sweep(now)
            window = self._seen[key]
            while window and now - window[0] >= 60:
                window.popleft()
            if len(window) >= self.per_minute:
                return max(1, int(60 - (now - window[0])) + 1)
            window.append(now)
            return 0

    def _sweep(self, now: float) -> None:
        """Forget keys with nothing in the window: the limiter runs before a key
        is looked up, so a flood of made-up keys must not stay in memory."""
        for key in [k for k, w in self._seen.items() if not w or now - w[-1] >= 60]:
            del self._seen[key]
        self._swept = now


@dataclass
class AppState:
    store: Store
    policy: Policy
    clock: Clock
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(120))
    # Set after a commit that created work for the worker (a page to deliver).
    wake: threading.Event = field(default_factory=threading.Event)
    # Alert deliveries share transactions on one thread (group commit).
    intake: BatchWriter = field(init=False)

    def __post_init__(self) -> None:
        self.intake = BatchWriter(self.store, name="mgops-intake")
