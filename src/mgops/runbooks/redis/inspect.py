"""Cache inspection: memory, key counts, big keys and the hit ratio.

Every function reads only. On a cluster each one asks every primary and reports
per node plus a total.

``hit_ratio`` takes two samples of the hit and miss counters ``interval``
seconds apart: the counters in ``INFO stats`` run since the server started, so
their ratio hides what the cache is doing now. ``big_keys`` is the runbook's
``redis-cli --bigkeys`` done with SCAN, pipelined TYPE / MEMORY USAGE / length
per batch, and a pause between batches.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from mgops.clock import Clock
from mgops.runbooks.redis.client import RedisTarget, show_key, translated
from mgops.runbooks.redis.keys import SCAN_COUNT, Progress, Throttle, scan_all

MEMORY_FIELDS = (
    "used_memory",
    "used_memory_human",
    "used_memory_rss",
    "used_memory_peak_human",
    "maxmemory",
    "maxmemory_human",
    "maxmemory_policy",
    "mem_fragmentation_ratio",
)

LENGTH_COMMAND = {
    b"string": "STRLEN",
    b"list": "LLEN",
    b"set": "SCARD",
    b"zset": "ZCARD",
    b"hash": "HLEN",
    b"stream": "XLEN",
}


def memory(*, target: RedisTarget) -> dict[str, Any]:
    """INFO memory per primary, with the share of maxmemory in use."""
    nodes: dict[str, dict[str, Any]] = {}
    with translated(target.where):
        for host, client in target.primaries():
            info = client.info("memory")
            stats = client.info("stats")
            row = {k: _text(info.get(k)) for k in MEMORY_FIELDS}
            row["evicted_keys"] = int(stats.get("evicted_keys", 0))
            maxmemory = int(info.get("maxmemory", 0))
            used = int(info.get("used_memory", 0))
            row["used_pct_of_max"] = (
                round(100 * used / maxmemory, 1) if maxmemory else None
            )
            nodes[host] = row
    return {"target": target.where, "nodes": nodes}


def dbsize(*, target: RedisTarget) -> dict[str, Any]:
    """Key counts per primary and in total."""
    with translated(target.where):
        nodes = {host: int(client.dbsize()) for host, client in target.primaries()}
    return {
        "target": target.where,
        "db": target.db,
        "nodes": nodes,
        "total": sum(nodes.values()),
    }


def _counters(target: RedisTarget) -> tuple[int, int]:
    hits = misses = 0
    with translated(target.where):
        for _host, client in target.primaries():
            stats = client.info("stats")
            hits += int(stats.get("keyspace_hits", 0))
            misses += int(stats.get("keyspace_misses", 0))
    return hits, misses


def _ratio(hits: int, misses: int) -> float | None:
    return round(hits / (hits + misses), 4) if hits + misses else None


def hit_ratio(
    *, target: RedisTarget, clock: Clock, interval: float = 10.0
) -> dict[str, Any]:
    """Hits / (hits + misses) over ``interval`` seconds, and since start beside it."""
    hits_1, misses_1 = _counters(target)
    clock.sleep(interval)
    hits_2, misses_2 = _counters(target)
    d_hits, d_misses = hits_2 - hits_1, misses_2 - misses_1
    return {
        "target": target.where,
        "interval_seconds": interval,
        "hits": d_hits,
        "misses": d_misses,
        "hit_ratio": _ratio(d_hits, d_misses),
        "since_start_hit_ratio": _ratio(hits_2, misses_2),
    }


@dataclass
class KeyFacts:
    key: str
    type: str
    bytes: int
    length: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type,
            "bytes": self.bytes,
            "length": self.length,
        }


@dataclass
class PrefixFacts:
    keys: int = 0
    bytes: int = 0


@dataclass
class BigKeysReport:
    target: str
    scanned: int = 0
    by_bytes: list[KeyFacts] = field(default_factory=list)
    by_length: list[KeyFacts] = field(default_factory=list)
    prefixes: dict[str, PrefixFacts] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "scanned": self.scanned,
            "by_bytes": [k.as_dict() for k in self.by_bytes],
            "by_length": [k.as_dict() for k in self.by_length],
            "prefixes": {
                p: {"keys": f.keys, "bytes": f.bytes} for p, f in self.prefixes.items()
            },
        }


def key_prefix(key: bytes, depth: int = 2) -> str:
    """``session:user:42:a`` → ``session:user:*``; ``content:9`` → ``content:*``."""
    parts = key.split(b":")
    keep = min(depth, len(parts) - 1)
    if keep <= 0:
        return show_key(key)
    return show_key(b":".join(parts[:keep])) + ":*"


def big_keys(
    *,
    target: RedisTarget,
    top: int = 10,
    pattern: str = "*",
    prefix_depth: int = 2,
    count: int = SCAN_COUNT,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
) -> BigKeysReport:
    """The biggest keys by bytes and by element count, and totals per key prefix."""
    report = BigKeysReport(target=target.where)
    heap_bytes: list[tuple[int, str, KeyFacts]] = []
    heap_len: list[tuple[int, str, KeyFacts]] = []
    for client, keys in scan_all(
        target, pattern, count=count, throttle=throttle, on_step=on_step
    ):
        for raw, facts in _describe_batch(target, client, keys):
            report.scanned += 1
            name = key_prefix(raw, prefix_depth)
            prefix = report.prefixes.setdefault(name, PrefixFacts())
            prefix.keys += 1
            prefix.bytes += facts.bytes
            _push(heap_bytes, (facts.bytes, facts.key, facts), top)
            if facts.type != "string":  # a string's length is bytes, not elements
                _push(heap_len, (facts.length, facts.key, facts), top)
    report.by_bytes = [f for _, _, f in sorted(heap_bytes, reverse=True)]
    report.by_length = [f for _, _, f in sorted(heap_len, reverse=True)]
    report.prefixes = dict(
        sorted(report.prefixes.items(), key=lambda kv: kv[1].bytes, reverse=True)
    )
    return report


def _push(
    heap: list[tuple[int, str, KeyFacts]], item: tuple[int, str, KeyFacts], top: int
) -> None:
    if len(heap) < top:
        heapq.heappush(heap, item)
    elif item[:2] > heap[0][:2]:
        heapq.heapreplace(heap, item)


def _describe_batch(
    target: RedisTarget, client: Any, keys: list[bytes]
) -> list[tuple[bytes, KeyFacts]]:
    """TYPE and MEMORY USAGE for a batch in one round trip, then the lengths."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
        pipe.memory_usage(key, samples=0)
    with translated(target.where):
        answers = pipe.execute(raise_on_error=False)
    types = answers[0::2]
    sizes = answers[1::2]
    pipe = client.pipeline(transaction=False)
    asked: list[int] = []
    for index, (key, kind) in enumerate(zip(keys, types, strict=True)):
        command = LENGTH_COMMAND.get(_as_bytes(kind))
        if command:
            pipe.execute_command(command, key)
            asked.append(index)
    with translated(target.where):
        lengths = dict(zip(asked, pipe.execute(raise_on_error=False), strict=True))
    facts = []
    for index, key in enumerate(keys):
        kind = _as_bytes(types[index])
        if kind == b"none":  # deleted between SCAN and TYPE
            continue
        size = sizes[index]
        length = lengths.get(index)
        facts.append(
            (
                key,
                KeyFacts(
                    key=show_key(key),
                    type=kind.decode("ascii", "replace"),
                    bytes=size if isinstance(size, int) else 0,
                    length=length if isinstance(length, int) else 0,
                ),
            )
        )
    return facts


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
