"""Finding keys without blocking the server, and deleting them in small batches.

The runbook's ``KEYS session:user:<id>:*`` walks the whole keyspace in one
command and stalls every other client; its ``DEL session:user:<id>:*`` deletes a
key literally named with a star, which does not exist. Here keys are found with
``SCAN`` (one bounded step at a time, on every primary of a cluster) and removed
with ``UNLINK`` (memory is freed off the main thread), in batches that never
cross a cluster hash slot. Ids put into a pattern are escaped first, so a user
id holding ``*`` or ``[`` matches only that user's keys.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import redis
from redis.crc import key_slot

from mgops.runbooks.redis.client import RedisTarget, translated

GLOB_SPECIAL = frozenset(b"*?[]\\")
SCAN_COUNT = 1000
# Deletes take smaller steps: each step is one short command on the server
# (about 0.1 ms at 250), and loopback round trips are cheap.
DELETE_COUNT = 250
UNLINK_BATCH = 500

Progress = Callable[[int], None]


def escape_glob(value: str | bytes) -> bytes:
    """``value`` with every glob character escaped, for use inside a MATCH pattern."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    out = bytearray()
    for byte in raw:
        if byte in GLOB_SPECIAL:
            out.append(ord("\\"))
        out.append(byte)
    return bytes(out)


def as_pattern(pattern: str | bytes) -> bytes:
    return pattern.encode("utf-8") if isinstance(pattern, str) else pattern


@dataclass
class Throttle:
    """Pauses between batches so other clients keep getting served.

    ``pause`` is slept after every batch; when a batch took longer than
    ``slow_batch`` seconds on the server side, the next pause doubles (up to
    ``max_pause``), and it decays back as batches get fast again.
    """

    pause: float = 0.0
    slow_batch: float = 0.005
    max_pause: float = 0.05
    sleep: Callable[[float], None] = time.sleep
    _extra: float = field(default=0.0, init=False)

    def after_batch(self, took: float) -> None:
        if took > self.slow_batch:
            self._extra = min(self.max_pause, max(self._extra * 2, 0.001))
        else:
            self._extra /= 2
        delay = self.pause + self._extra
        if delay > 0.0001:
            self.sleep(delay)


def scan_node(
    client: redis.Redis[bytes],
    pattern: bytes,
    *,
    count: int = SCAN_COUNT,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
) -> Iterator[list[bytes]]:
    """Batches of keys matching ``pattern`` on one server, one SCAN step each."""
    cursor = 0
    while True:
        started = time.perf_counter()
        cursor, keys = client.scan(cursor=cursor, match=pattern, count=count)
        if on_step:
            on_step(count)
        if keys:
            yield list(keys)
        if throttle:
            throttle.after_batch(time.perf_counter() - started)
        if cursor == 0:
            return


def scan_all(
    target: RedisTarget,
    pattern: str | bytes,
    *,
    count: int = SCAN_COUNT,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
) -> Iterator[tuple[redis.Redis[bytes], list[bytes]]]:
    """``(node client, keys)`` batches over every primary; the keys live there."""
    match = as_pattern(pattern)
    for _host, client in target.primaries():
        with translated(target.where):
            for keys in scan_node(
                client, match, count=count, throttle=throttle, on_step=on_step
            ):
                yield client, keys


def unlink_groups(target: RedisTarget, keys: list[bytes]) -> list[list[bytes]]:
    """``keys`` split so that no UNLINK crosses a hash slot or exceeds a batch."""
    if not target.cluster:
        return [keys[i : i + UNLINK_BATCH] for i in range(0, len(keys), UNLINK_BATCH)]
    by_slot: dict[int, list[bytes]] = defaultdict(list)
    for key in keys:
        by_slot[key_slot(key)].append(key)
    return [
        slot_keys[start : start + UNLINK_BATCH]
        for slot_keys in by_slot.values()
        for start in range(0, len(slot_keys), UNLINK_BATCH)
    ]


def unlink_keys(
    target: RedisTarget, client: redis.Redis[bytes], keys: list[bytes]
) -> int:
    """UNLINK ``keys`` on the node that holds them, one command per hash slot."""
    pipe = client.pipeline(transaction=False)
    for group in unlink_groups(target, keys):
        pipe.unlink(*group)
    with translated(target.where):
        return sum(int(n) for n in pipe.execute())


def scan_and_unlink(
    target: RedisTarget,
    client: redis.Redis[bytes],
    pattern: bytes,
    *,
    count: int = SCAN_COUNT,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
) -> Iterator[tuple[list[bytes], int]]:
    """Delete what ``pattern`` matches on one node; yields (keys found, deleted).

    Each round trip carries the UNLINKs for the previous step's keys and the next
    SCAN, so the walk costs one round trip per step instead of two while every
    command stays as small as before.
    """
    cursor, first = 0, True
    pending: list[bytes] = []
    while first or cursor != 0 or pending:
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for group in unlink_groups(target, pending):
            pipe.unlink(*group)
        scanning = first or cursor != 0
        if scanning:
            pipe.scan(cursor=cursor, match=pattern, count=count)
        with translated(target.where):
            replies = pipe.execute()
        deleted = sum(int(n) for n in (replies[:-1] if scanning else replies))
        found: list[bytes] = []
        if scanning:
            cursor, found = replies[-1][0], list(replies[-1][1])
            if on_step:
                on_step(count)
        first, pending = False, found
        yield found, deleted
        if throttle:
            throttle.after_batch(time.perf_counter() - started)


# One bounded step of a pattern delete, done on the server: SCAN with COUNT, then
# UNLINK what it found in batches. The client gets counts back (and a few names
# for the sample) instead of every key, which is most of the client's work.
# SCAN in a script is allowed since Redis 5 (scripts replicate their effects).
_STEP_SCRIPT = """
local r = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local keys = r[2]
local deleted = 0
for i = 1, #keys, 500 do
  deleted = deleted + redis.call('UNLINK', unpack(keys, i, math.min(i + 499, #keys)))
end
local sample = {}
for i = 1, math.min(tonumber(ARGV[4]), #keys) do sample[i] = keys[i] end
return {r[1], #keys, deleted, sample}
"""


def unlink_by_script(
    client: redis.Redis[bytes],
    pattern: bytes,
    *,
    count: int = SCAN_COUNT,
    sample_size: int = 0,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
) -> Iterator[tuple[list[bytes], int, int]]:
    """Delete on one standalone server, a step per call; yields (sample, found,
    deleted). Raises ``redis.ResponseError`` at once when scripts are not allowed.
    """
    step = client.register_script(_STEP_SCRIPT)
    cursor: bytes | int = 0
    wanted = sample_size
    while True:
        started = time.perf_counter()
        reply = step(args=[cursor, pattern, count, wanted])
        cursor, found, deleted, sample = reply
        wanted = max(0, wanted - len(sample))
        if on_step:
            on_step(count)
        yield list(sample), int(found), int(deleted)
        if throttle:
            throttle.after_batch(time.perf_counter() - started)
        if int(cursor) == 0:
            return


def count_keys(target: RedisTarget) -> int:
    """DBSIZE summed over the primaries: the denominator of a scan's progress."""
    total = 0
    with translated(target.where):
        for _host, client in target.primaries():
            total += int(client.dbsize())
    return total
