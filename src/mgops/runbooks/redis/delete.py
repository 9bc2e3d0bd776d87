"""Bulk deletes: keys by pattern, whole databases.

``delete_pattern`` is a dry run unless ``apply`` is set: it reports how many keys
match and a sample of them. Applied, it deletes batch by batch as SCAN finds
them, so memory use stays flat and the server keeps serving in between.
``flush`` empties one database (or all) with the ASYNC flag, so the server frees
the memory in the background instead of stalling for seconds.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from mgops.audit import audited
from mgops.runbooks.redis.client import RedisTarget, show_key, translated
from mgops.runbooks.redis.keys import (
    DELETE_COUNT,
    Progress,
    Throttle,
    as_pattern,
    scan_all,
    scan_and_unlink,
    unlink_by_script,
)
from mgops.store.db import Store

SAMPLE_SIZE = 10
logger = logging.getLogger(__name__)


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
    count: int = DELETE_COUNT,
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
    count: int = DELETE_COUNT,
    throttle: Throttle | None = None,
    on_step: Progress | None = None,
) -> PatternReport:
    """SCAN + UNLINK every key matching ``pattern``; not audited (see below)."""
    report = PatternReport(
        pattern=show_key(as_pattern(pattern)), target=target.where, applied=True
    )
    match = as_pattern(pattern)
    if not target.cluster and _delete_by_script(
        target, match, report, count=count, throttle=throttle, on_step=on_step
    ):
        return report
    for _host, client in target.primaries():
        for keys, deleted in scan_and_unlink(
            target, client, match, count=count, throttle=throttle, on_step=on_step
        ):
            report.matched += len(keys)
            report.deleted += deleted
            room = SAMPLE_SIZE - len(report.sample)
            report.sample.extend(show_key(k) for k in keys[:room])
    return report


def _delete_by_script(
    target: RedisTarget,
    match: bytes,
    report: PatternReport,
    *,
    count: int,
    throttle: Throttle | None,
    on_step: Progress | None,
) -> bool:
    """The server-side steps; False (nothing done) when scripts are not allowed."""
    client = target.client
    assert isinstance(client, redis.Redis)
    steps = unlink_by_script(
        client,
        match,
        count=count,
        sample_size=SAMPLE_SIZE,
        throttle=throttle,
        on_step=on_step,
    )
    with translated(target.where):
        try:
            first = next(steps)
        except redis.ResponseError as exc:
            # NOPERM (an ACL without @scripting) or scripting switched off: the
            # client-side walk does the same work with plain SCAN and UNLINK.
            logger.info("pattern delete without scripts", extra={"reason": str(exc)})
            return False
        for sample, found, deleted in itertools.chain([first], steps):
            report.matched += found
            report.deleted += deleted
            report.sample.extend(show_key(k) for k in sample)
    return True


def delete_pattern(
    *,
    target: RedisTarget,
    store: Store,
    pattern: str | bytes,
    apply: bool = False,
    incident_id: int | None = None,
    count: int = DELETE_COUNT,
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
