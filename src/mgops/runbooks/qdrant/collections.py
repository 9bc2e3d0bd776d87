"""Collections, the cluster, and getting the optimizers (and indexing) running.

The runbook "rebuilds the HNSW index" with ``POST /collections/<name>`` and
``indexing_threshold: 0``. Both are wrong: collection parameters are updated
with PATCH, and a threshold of 0 *switches vector indexing off*, so the
collection silently stays unindexed and searches go brute force.

``optimize`` does what was meant. It reads the collection; if indexing is off
(threshold 0) it restores a threshold (the one given, else Qdrant's default);
it sends the PATCH, which also wakes optimizers that are pending but not
triggered (status ``grey``); then it checks the threshold that came back and
watches the status until the collection is green or the wait runs out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from qdrant_client.http import models

from mgops.audit import audited
from mgops.clock import Clock
from mgops.errors import InputError, TargetError
from mgops.runbooks.qdrant.client import QdrantTarget, translated
from mgops.store.db import Store

DEFAULT_INDEXING_THRESHOLD = 20_000  # kB; Qdrant's own default since 1.8
POLL_SECONDS = 1.0


def _status(info: models.CollectionInfo) -> dict[str, Any]:
    optimizer = info.optimizer_status
    optimizer_text = (
        "ok"
        if optimizer == models.OptimizersStatusOneOf.OK
        else getattr(optimizer, "error", str(optimizer))
    )
    config = info.config.optimizer_config
    return {
        "status": str(getattr(info.status, "value", info.status)),
        "optimizer_status": optimizer_text,
        "points_count": info.points_count,
        "indexed_vectors_count": info.indexed_vectors_count,
        "segments_count": info.segments_count,
        "indexing_threshold": config.indexing_threshold,
        "warnings": [w.message for w in info.warnings or []],
    }


def collection_info(*, target: QdrantTarget, name: str) -> dict[str, Any]:
    """Status, points, segments, optimizer status and the indexing threshold."""
    with translated(target.where):
        info = target.client.get_collection(name)
    return {"name": name, **_status(info)}


def list_collections(
    *, target: QdrantTarget, details: bool = True
) -> list[dict[str, Any]]:
    """Every collection, with its status when ``details`` (one request each)."""
    with translated(target.where):
        names = sorted(c.name for c in target.client.get_collections().collections)
    if not details:
        return [{"name": n} for n in names]
    return [collection_info(target=target, name=n) for n in names]


def cluster(*, target: QdrantTarget, collection: str | None = None) -> dict[str, Any]:
    """Cluster status (peers, raft); with ``collection``, where its shards live."""
    if target.local:
        return {"status": "disabled", "note": "local mode has no cluster"}
    with translated(target.where):
        status = target.client.cluster_status()
        result: dict[str, Any] = status.model_dump(mode="json")
        if collection:
            shards = target.client.collection_cluster_info(collection)
            result["collection"] = shards.model_dump(mode="json")
    return result


def optimize(
    *,
    target: QdrantTarget,
    store: Store,
    clock: Clock,
    name: str,
    indexing_threshold: int | None = None,
    wait_seconds: float = 60.0,
    incident_id: int | None = None,
) -> dict[str, Any]:
    """PATCH the optimizer config so indexing is on and optimizers run; audited."""
    if indexing_threshold is not None and indexing_threshold <= 0:
        raise InputError(
            "An indexing threshold of 0 switches vector indexing off; mgops never "
            "sets it. Give a size in kB (Qdrant's default is 20000)."
        )
    before = collection_info(target=target, name=name)
    current = before["indexing_threshold"]
    wanted = indexing_threshold
    if wanted is None and current == 0:
        wanted = DEFAULT_INDEXING_THRESHOLD
    with audited(
        store,
        kind="qdrant.optimize",
        target=f"{target.where}/collections/{name}",
        params={"indexing_threshold": wanted, "before": before},
        incident_id=incident_id,
        clock=clock,
    ) as action:
        diff = models.OptimizersConfigDiff(indexing_threshold=wanted)
        with translated(target.where):
            target.client.update_collection(name, optimizers_config=diff)
        after = _wait_for_green(target, clock, name, wait_seconds)
        if after["indexing_threshold"] == 0:
            raise TargetError(
                f"{name}: the indexing threshold is still 0 after the update; "
                "indexing stays off."
            )
        action.result.update(after=after)
        return {
            "name": name,
            "before": before,
            "after": after,
            "indexing_restored": current == 0,
            "settled": after["status"] == "green",
        }


def _wait_for_green(
    target: QdrantTarget, clock: Clock, name: str, wait_seconds: float
) -> dict[str, Any]:
    deadline = clock.now() + timedelta(seconds=wait_seconds)
    while True:
        info = collection_info(target=target, name=name)
        if info["status"] == "green" or clock.now() >= deadline:
            return info
        clock.sleep(POLL_SECONDS)
