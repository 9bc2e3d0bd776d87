"""``mgops qdrant …``: the runbook's Qdrant section (2.3) as safe commands.

``optimize`` PATCHes (never POSTs) and never leaves indexing off; ``snapshot
restore`` sends a location Qdrant can read, with ``priority: snapshot``, after a
typed confirmation naming the collection.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mgops.cli.context import app_context
from mgops.cli.output import (
    JsonOption,
    confirm_typed,
    console,
    emit,
    err_console,
    table,
)
from mgops.cli.targets import (
    IncidentOption,
    TargetOption,
    UrlOption,
    YesOption,
    connection_url,
    progress_bar,
)

if TYPE_CHECKING:
    from mgops.runbooks.qdrant.client import QdrantTarget

app = typer.Typer(
    help="Qdrant: collections, optimizers, snapshots.", no_args_is_help=True
)
snapshot_app = typer.Typer(help="Collection snapshots.", no_args_is_help=True)
app.add_typer(snapshot_app, name="snapshot")

ApiKeyOption = typer.Option(
    None, "--api-key", envvar="MGOPS_QDRANT_API_KEY", help="Qdrant API key."
)


def _connect(url: str | None, target: str | None, api_key: str | None) -> QdrantTarget:
    from mgops.runbooks.qdrant.client import connect

    return connect(connection_url("qdrant_url", url, target), api_key=api_key)


def _info_row(c: dict[str, object]) -> tuple[object, ...]:
    return (
        c["name"],
        c["status"],
        c["optimizer_status"],
        c["points_count"],
        c["indexed_vectors_count"],
        c["segments_count"],
        c["indexing_threshold"],
    )


INFO_COLUMNS = (
    "collection",
    "status",
    "optimizer",
    "points",
    "indexed",
    "segments",
    "indexing threshold",
)


@app.command("collections")
def collections(
    url: str = UrlOption,
    target: str = TargetOption,
    api_key: str = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Every collection with its status and counts."""
    from mgops.runbooks.qdrant.collections import list_collections

    found = list_collections(target=_connect(url, target, api_key))
    emit(
        found,
        as_json,
        lambda: table(
            "Collections",
            INFO_COLUMNS,
            [_info_row(c) for c in found],
            empty="No collections.",
        ),
    )


@app.command("info")
def info(
    name: str = typer.Argument(...),
    url: str = UrlOption,
    target: str = TargetOption,
    api_key: str = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Status, points, segments, optimizer status of one collection."""
    from mgops.runbooks.qdrant.collections import collection_info

    found = collection_info(target=_connect(url, target, api_key), name=name)

    def render() -> None:
        table(name, INFO_COLUMNS, [_info_row(found)])
        if found["indexing_threshold"] == 0:
            console.print(
                "[red]indexing is switched off (threshold 0): run mgops qdrant "
                f"optimize {name}[/red]"
            )
        if found["status"] == "grey":
            console.print(
                "[yellow]optimizations are pending but not triggered: "
                f"run mgops qdrant optimize {name}[/yellow]"
            )
        for warning in found["warnings"]:
            console.print(f"[yellow]{warning}[/yellow]")

    emit(found, as_json, render)


@app.command("cluster")
def cluster_status(
    collection: str = typer.Option(
        None, "--collection", help="Also show this collection's shards."
    ),
    url: str = UrlOption,
    target: str = TargetOption,
    api_key: str = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Cluster status: peers, raft state; shard placement with --collection."""
    from mgops.runbooks.qdrant.collections import cluster

    found = cluster(target=_connect(url, target, api_key), collection=collection)

    def render() -> None:
        console.print(f"cluster: {found.get('status')}")
        for peer_id, peer in (found.get("peers") or {}).items():
            console.print(f"  peer {peer_id}: {peer.get('uri')}", highlight=False)
        if "raft_info" in found:
            raft = found["raft_info"]
            console.print(
                f"  raft: term {raft.get('term')}, commit {raft.get('commit')}, "
                f"leader {raft.get('leader')}",
                highlight=False,
            )

    emit(found, as_json, render)


@app.command("optimize")
def optimize(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    indexing_threshold: int = typer.Option(
        None,
        "--indexing-threshold",
        min=1,
        help="kB; default: keep the current one, or 20000 if indexing is off.",
    ),
    wait: float = typer.Option(
        60.0, "--wait", min=0, help="Seconds to wait for green."
    ),
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    api_key: str = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Resume optimizers and make sure indexing is on (PATCH, never threshold 0)."""
    from mgops.runbooks.qdrant.collections import optimize as run_optimize

    app_ctx = app_context(ctx)
    result = run_optimize(
        target=_connect(url, target, api_key),
        store=app_ctx.store,
        clock=app_ctx.clock,
        name=name,
        indexing_threshold=indexing_threshold,
        wait_seconds=wait,
        incident_id=incident,
    )

    def render() -> None:
        before, after = result["before"], result["after"]
        console.print(
            f"{name}: {before['status']} → {after['status']}, indexing threshold "
            f"{before['indexing_threshold']} → {after['indexing_threshold']}"
        )
        if not result["settled"]:
            console.print(
                "[yellow]still optimizing; check again with mgops qdrant info "
                f"{name}[/yellow]"
            )

    emit(result, as_json, render)


@snapshot_app.command("create")
def snapshot_create(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    api_key: str = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a snapshot of collection NAME and wait for it."""
    from mgops.runbooks.qdrant.snapshots import create_snapshot

    made = create_snapshot(
        target=_connect(url, target, api_key),
        store=app_context(ctx).store,
        name=name,
        incident_id=incident,
    )
    emit(made, as_json, lambda: console.print(f"{made['name']} ({made['size']} bytes)"))


@snapshot_app.command("list")
def snapshot_list(
    name: str = typer.Argument(...),
    url: str = UrlOption,
    target: str = TargetOption,
    api_key: str = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """The snapshots of collection NAME."""
    from mgops.runbooks.qdrant.snapshots import list_snapshots

    found = list_snapshots(target=_connect(url, target, api_key), name=name)
    rows = [
        (s["name"], s.get("creation_time"), s["size"], s.get("checksum")) for s in found
    ]
    emit(
        found,
        as_json,
        lambda: table(
            f"Snapshots of {name}",
            ("name", "created", "bytes", "sha256"),
            rows,
            empty="No snapshots.",
        ),
    )


@snapshot_app.command("download")
def snapshot_download(
    name: str = typer.Argument(...),
    snapshot: str = typer.Argument(..., help="Snapshot name (see snapshot list)."),
    output: Path = typer.Option(
        None, "--output", "-o", help="File to write (default: the name)."
    ),
    url: str = UrlOption,
    target: str = TargetOption,
    api_key: str = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Download a snapshot and check its SHA-256 against the server's listing."""
    from mgops.runbooks.qdrant.snapshots import download_snapshot

    dest = output or Path(snapshot)
    with progress_bar(f"downloading {snapshot}", None) as advance:
        result = download_snapshot(
            target=_connect(url, target, api_key),
            name=name,
            snapshot=snapshot,
            dest=dest,
            on_bytes=lambda n, _total: advance(n),
        )
    emit(
        result,
        as_json,
        lambda: console.print(
            f"{result['path']}: {result['bytes']} bytes, "
            + ("checksum verified" if result["verified"] else "no checksum to verify")
        ),
    )


@snapshot_app.command("restore")
def snapshot_restore(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The collection to restore."),
    source: str = typer.Argument(
        ..., help="Snapshot name, absolute path on the node, or URL."
    ),
    snapshots_dir: str = typer.Option(
        "/qdrant/snapshots",
        "--snapshots-dir",
        help="The node's snapshots directory (for names).",
    ),
    via_url: bool = typer.Option(
        False,
        "--via-url",
        help="For a name: let the node fetch it over HTTP instead of file://.",
    ),
    priority: str = typer.Option(
        "snapshot", "--priority", help="snapshot, replica or no_sync."
    ),
    yes: bool = YesOption,
    incident: int = IncidentOption,
    url: str = UrlOption,
    target: str = TargetOption,
    api_key: str = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Restore collection NAME from a snapshot (overwrites its data on this node)."""
    from mgops.runbooks.qdrant.snapshots import restore_snapshot, snapshot_location

    conn = _connect(url, target, api_key)
    location = snapshot_location(
        target=conn,
        collection=name,
        source=source,
        snapshots_dir=snapshots_dir,
        via_url=via_url,
    )
    err_console.print(
        f"restore {name} on {conn.where} from {location} (priority {priority})",
        highlight=False,
    )
    confirm_typed(name, what=f"Overwrite collection {name} with the snapshot.", yes=yes)
    result = restore_snapshot(
        target=conn,
        store=app_context(ctx).store,
        name=name,
        source=source,
        snapshots_dir=snapshots_dir,
        via_url=via_url,
        priority=priority,
        incident_id=incident,
    )
    emit(
        result,
        as_json,
        lambda: console.print(f"{name} restored from {result['location']}"),
    )
