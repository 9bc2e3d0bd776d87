"""Collection snapshots: create, list, download, restore.

The runbook restores with ``{"location": "<snapshot_name>"}``. Qdrant reads
``location`` as a URL (``http(s)://`` to fetch, ``file://`` for a path on the
node), so a bare name is refused. ``snapshot_location`` builds the right one:
a name becomes ``file://<snapshots dir>/<collection>/<name>`` (the layout Qdrant
writes; ``/qdrant/snapshots`` in the official image) or, with ``via_url``, the
snapshot's own URL on the server. The request sets ``priority: snapshot`` so the
snapshot, not a replica's current state, is the source of truth, and carries the
checksum from the listing when there is one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from qdrant_client.http import models

from mgops.audit import audited
from mgops.errors import InputError, NotFound, TargetError
from mgops.runbooks.qdrant.client import QdrantTarget, translated
from mgops.store.db import Store

DEFAULT_SNAPSHOTS_DIR = "/qdrant/snapshots"
PRIORITIES = ("snapshot", "replica", "no_sync")
_URL = re.compile(r"^(https?|file)://", re.IGNORECASE)
CHUNK = 1 << 20


def list_snapshots(*, target: QdrantTarget, name: str) -> list[dict[str, Any]]:
    with translated(target.where):
        found = target.client.list_snapshots(name)
    return [s.model_dump(mode="json") for s in found]


def create_snapshot(
    *, target: QdrantTarget, store: Store, name: str, incident_id: int | None = None
) -> dict[str, Any]:
    """POST a snapshot and wait for it; audited."""
    with audited(
        store,
        kind="qdrant.snapshot-create",
        target=f"{target.where}/collections/{name}",
        incident_id=incident_id,
    ) as action:
        with translated(target.where):
            made = target.client.create_snapshot(name, wait=True)
        if made is None:
            raise TargetError(f"Qdrant accepted the snapshot of {name} but named none.")
        result = made.model_dump(mode="json")
        action.result.update(result)
        return result


def snapshot_location(
    *,
    target: QdrantTarget,
    collection: str,
    source: str,
    snapshots_dir: str = DEFAULT_SNAPSHOTS_DIR,
    via_url: bool = False,
) -> str:
    """A location Qdrant accepts: a URL as given, a path as file://, a name built."""
    if _URL.match(source):
        return source
    if source.startswith("/"):
        return "file://" + quote(source)
    if "/" in source or source in ("", ".", ".."):
        raise InputError(
            f"{source!r} is neither a snapshot name, an absolute path nor a URL."
        )
    if via_url:
        if target.local:
            raise InputError("Local mode has no URL to fetch a snapshot from.")
        return (
            f"{target.url.rstrip('/')}/collections/{quote(collection, safe='')}"
            f"/snapshots/{quote(source, safe='')}"
        )
    path = f"{snapshots_dir.rstrip('/')}/{collection}/{source}"
    return "file://" + quote(path)


def restore_snapshot(
    *,
    target: QdrantTarget,
    store: Store,
    name: str,
    source: str,
    snapshots_dir: str = DEFAULT_SNAPSHOTS_DIR,
    via_url: bool = False,
    priority: str = "snapshot",
    incident_id: int | None = None,
) -> dict[str, Any]:
    """PUT …/snapshots/recover with a real location and a priority; audited."""
    if priority not in PRIORITIES:
        raise InputError(f"Unknown priority {priority!r}: use {', '.join(PRIORITIES)}.")
    checksum = None
    if not _URL.match(source) and not source.startswith("/"):
        known = {s["name"]: s for s in list_snapshots(target=target, name=name)}
        if source not in known:
            raise NotFound(
                f"Collection {name} has no snapshot named {source!r} "
                f"(known: {', '.join(sorted(known)) or 'none'})."
            )
        checksum = known[source].get("checksum")
    location = snapshot_location(
        target=target,
        collection=name,
        source=source,
        snapshots_dir=snapshots_dir,
        via_url=via_url,
    )
    params = {"location": location, "priority": priority, "checksum": checksum}
    with audited(
        store,
        kind="qdrant.snapshot-restore",
        target=f"{target.where}/collections/{name}",
        params=params,
        incident_id=incident_id,
    ) as action:
        with translated(target.where):
            done = target.client.recover_snapshot(
                name,
                location=location,
                priority=models.SnapshotPriority(priority),
                checksum=checksum,
                wait=True,
            )
        action.result["recovered"] = bool(done)
        return {"name": name, **params, "recovered": bool(done)}


def download_snapshot(
    *,
    target: QdrantTarget,
    name: str,
    snapshot: str,
    dest: Path,
    on_bytes: Callable[[int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Stream a snapshot to ``dest`` and check its SHA-256 against the listing."""
    listed = {s["name"]: s for s in list_snapshots(target=target, name=name)}
    if snapshot not in listed:
        raise NotFound(f"Collection {name} has no snapshot named {snapshot!r}.")
    expected = listed[snapshot].get("checksum")
    partial = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    size = 0
    path = f"/collections/{quote(name, safe='')}/snapshots/{quote(snapshot, safe='')}"
    with (
        target.http() as http,
        translated(target.where),
        http.stream("GET", path) as response,
    ):
        if response.status_code != 200:
            raise TargetError(
                f"Qdrant answered {response.status_code} for snapshot {snapshot}."
            )
        total = int(response.headers.get("content-length") or 0) or None
        with partial.open("wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if on_bytes:
                    on_bytes(len(chunk), total)
    if expected and digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise TargetError(
            f"The download of {snapshot} does not match its checksum; it was deleted."
        )
    partial.replace(dest)
    return {
        "name": name,
        "snapshot": snapshot,
        "path": str(dest),
        "bytes": size,
        "sha256": digest.hexdigest(),
        "verified": bool(expected),
    }
