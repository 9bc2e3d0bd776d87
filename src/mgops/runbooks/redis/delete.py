"""Bulk deletes: keys by pattern, whole databases.

``delete_pattern`` is a dry run unless ``apply`` is set: it reports how many keys
match and a sample of them. Applied, it deletes batch by batch as SCAN finds
them, so memory use stays flat and the server keeps serving in between.
``flush`` empties one database (or all) with the ASYNC flag, so the server frees
the memory in the background instead of stalling for seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mgops.audit import audited
from mgops.runbooks.redis.client import RedisTarget, show_key, translated
from mgops.runbooks.redis.keys import (
    SCAN_COUNT,
    Progress,
    Throttle,
    as_pattern,
    scan_all,
    scan_and_unlink,
)
from mgops.store.db import Store

SAMPLE_SIZE = 10


@dataclass
class PatternReport:
    pattern: str
    target: str
    applied: bool
    matched: int = 0
    deleted: int = 0
    sample: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "target": self.target,
            "applied": self.applied,
            "matched": self.matched,
            "deleted": self.deleted,
            "sample": self.sample,
        }


def preview_pattern(
    target: RedisTarget,
    pattern: str | bytes,
    *,
    count: int = SCAN_COUNT,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
) -> PatternReport:
    """How many keys match ``pattern`` and which ones; nothing is changed."""
    report = PatternReport(
        pattern=show_key(as_pattern(pattern)), target=target.where, applied=False
    )
    for _client, keys in scan_all(
        target, pattern, count=count, throttle=throttle, on_step=on_step
    ):
        report.matched += len(keys)
        room = SAMPLE_SIZE - len(report.sample)
        report.sample.extend(show_key(k) for k in keys[:room])
    return report


def delete_matching(
    target: RedisTarget,
    pattern: str | bytes,
    *,
    count: int = SCAN_COUNT,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
) -> PatternReport:
    """SCAN + UNLINK every key matching ``pattern``; not audited (see below)."""
    report = PatternReport(
        pattern=show_key(as_pattern(pattern)), target=target.where, applied=True
    )
    match = as_pattern(pattern)
    for _host, client in target.primaries():
        for keys, deleted in scan_and_unlink(
            target, client, match, count=count, throttle=throttle, on_step=on_step
        ):
            report.matched += len(keys)
            report.deleted += deleted
            room = SAMPLE_SIZE - len(report.sample)
            report.sample.extend(show_key(k) for k in keys[:room])
    return report


def delete_pattern(
    *,
    target: RedisTarget,
    store: Store,
    pattern: str | bytes,
    apply: bool = False,
    incident_id: int | None = None,
    count: int = SCAN_COUNT,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
    kind: str = "redis.delete-pattern",
) -> PatternReport:
    """The audited delete: a dry run by default, the deletion with ``apply``."""
    params = {"pattern": show_key(as_pattern(pattern)), "scan_count": count}
    with audited(
        store,
        kind=kind,
        target=target.where,
        params=params,
        incident_id=incident_id,
        dry_run=not apply,
    ) as action:
        run = delete_matching if apply else preview_pattern
        report = run(target, pattern, count=count, throttle=throttle, on_step=on_step)
        action.result.update(
            matched=report.matched, deleted=report.deleted, sample=report.sample
        )
        return report


def flush(
    *,
    target: RedisTarget,
    store: Store,
    everything: bool = False,
    incident_id: int | None = None,
) -> dict[str, Any]:
    """FLUSHDB (or FLUSHALL) ASYNC on every primary; returns the key counts before."""
    kind = "redis.flushall" if everything else "redis.flushdb"
    with audited(
        store,
        kind=kind,
        target=target.where,
        params={"db": target.db, "all": everything},
        incident_id=incident_id,
    ) as action:
        before: dict[str, int] = {}
        with translated(target.where):
            for host, client in target.primaries():
                before[host] = int(client.dbsize())
                if everything:
                    client.flushall(asynchronous=True)
                else:
                    client.flushdb(asynchronous=True)
        action.result["keys_before"] = before
        return {"flushed": kind.split(".")[1], "db": target.db, "keys_before": before}
