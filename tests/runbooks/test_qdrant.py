"""Qdrant runbook commands: local mode where it reaches, a contract-checked fake beyond.

Every request mgops sends to the fake and every answer the fake gives is
validated against Qdrant's OpenAPI document; a test fails when either breaks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from qdrant_client.http import models

from mgops.clock import ManualClock
from mgops.errors import InputError, NotFound, TargetError
from mgops.runbooks.qdrant.client import QdrantTarget, connect
from mgops.runbooks.qdrant.collections import (
    cluster,
    collection_info,
    list_collections,
    optimize,
)
from mgops.runbooks.qdrant.snapshots import (
    create_snapshot,
    download_snapshot,
    list_snapshots,
    restore_snapshot,
    snapshot_location,
)
from mgops.store.db import Store
from tests.conftest import shared_path
from tests.runbooks.helpers import actions, timeline
from tests.runbooks.qdrant_fake import Contract, FakeQdrant, load_contract, serve


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(shared_path("data", "contracts", "qdrant-openapi.json"))


@pytest.fixture
def fake(contract: Contract) -> Iterator[FakeQdrant]:
    """The fake server; the test fails if any exchange broke the contract."""
    app = FakeQdrant(contract)
    server, _url = serve(app)
    yield app
    server.shutdown()
    server.server_close()
    assert app.violations == []


@pytest.fixture
def qdrant(fake: FakeQdrant) -> Iterator[QdrantTarget]:
    target = connect(fake.base_url)
    yield target
    target.close()


def sent(fake: FakeQdrant, method: str) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["method"] == method]


class TestContract:
    def test_the_contract_catches_the_runbooks_requests(
        self, contract: Contract
    ) -> None:
        """POST /collections/{name} does not exist; a bare snapshot name is no URI."""
        recover = contract.operation("PUT", "/collections/c/snapshots/recover")

        assert contract.operation("POST", "/collections/c") is None
        assert recover is not None
        assert contract.check_request(recover, {}, {"location": "c-1.snapshot"})
        assert not contract.check_request(
            recover, {}, {"location": "file:///qdrant/snapshots/c/c-1.snapshot"}
        )

    def test_responses_are_checked_too(self, contract: Contract) -> None:
        """A collection info without its required config breaks the contract."""
        get = contract.operation("GET", "/collections/c")
        assert get is not None
        info = FakeQdrant(contract).add("c").info()
        del info["config"]

        problems = contract.check_response(get, 200, {"result": info, "status": "ok"})

        assert any("config" in p for p in problems)

    def test_nullable_fields_accept_null_and_reject_wrong_types(
        self, contract: Contract
    ) -> None:
        """OpenAPI's nullable is honoured: null passes, a string does not."""
        patch = contract.operation("PATCH", "/collections/c")
        assert patch is not None

        good = {"optimizers_config": {"indexing_threshold": None}}
        bad = {"optimizers_config": {"indexing_threshold": "lots"}}

        assert contract.check_request(patch, {}, good) == []
        assert contract.check_request(patch, {}, bad)


class TestLocalMode:
    @pytest.fixture
    def local(self) -> Iterator[QdrantTarget]:
        target = connect("local::memory:")
        target.client.create_collection(
            "content_embeddings",
            vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE),
        )
        yield target
        target.close()

    def test_collections_and_info(self, local: QdrantTarget) -> None:
        """Local mode lists collections and reports status and point counts."""
        local.client.upsert(
            "content_embeddings",
            points=[models.PointStruct(id=1, vector=[0.1, 0.2, 0.3, 0.4])],
        )

        listed = list_collections(target=local)
        info = collection_info(target=local, name="content_embeddings")

        assert [c["name"] for c in listed] == ["content_embeddings"]
        assert (info["status"], info["points_count"]) == ("green", 1)

    def test_missing_collection_is_not_found(self, local: QdrantTarget) -> None:
        with pytest.raises(NotFound):
            collection_info(target=local, name="nope")

    def test_snapshots_need_a_server(self, local: QdrantTarget, store: Store) -> None:
        """What local mode cannot do is an input error that says so."""
        with pytest.raises(InputError, match="local mode"):
            create_snapshot(target=local, store=store, name="content_embeddings")
        assert cluster(target=local)["status"] == "disabled"


class TestOptimize:
    def test_r5_paused_optimizers_get_a_patch_and_indexing_back_on(
        self, fake: FakeQdrant, qdrant: QdrantTarget, store: Store, clock: ManualClock
    ) -> None:
        """R5: grey collection with indexing off → PATCH, threshold > 0, green."""
        fake.add("content_embeddings", status="grey", indexing_threshold=0)

        result = optimize(
            target=qdrant, store=store, clock=clock, name="content_embeddings"
        )

        [patch] = sent(fake, "PATCH")
        assert patch["path"] == "/collections/content_embeddings"
        assert patch["body"]["optimizers_config"]["indexing_threshold"] == 20000
        assert sent(fake, "POST") == []
        assert fake.collections["content_embeddings"].indexing_threshold == 20000
        assert result["indexing_restored"] is True
        assert result["after"]["status"] == "green"
        assert actions(store)[-1].kind == "qdrant.optimize"

    def test_r5_an_existing_threshold_is_kept(
        self, fake: FakeQdrant, qdrant: QdrantTarget, store: Store, clock: ManualClock
    ) -> None:
        """Optimizers paused but indexing on: the PATCH keeps the threshold."""
        fake.add("c", status="grey", indexing_threshold=50_000)

        result = optimize(target=qdrant, store=store, clock=clock, name="c")

        [patch] = sent(fake, "PATCH")
        assert patch["body"]["optimizers_config"].get("indexing_threshold") in (
            None,
            50000,
        )
        assert fake.collections["c"].indexing_threshold == 50_000
        assert result["settled"] is True

    def test_r5_zero_is_refused_before_anything_is_sent(
        self, fake: FakeQdrant, qdrant: QdrantTarget, store: Store, clock: ManualClock
    ) -> None:
        """Asking for 0 (the runbook's value) is refused: it switches indexing off."""
        fake.add("c", status="grey", indexing_threshold=20_000)

        with pytest.raises(InputError, match="switches vector indexing off"):
            optimize(
                target=qdrant, store=store, clock=clock, name="c", indexing_threshold=0
            )

        assert sent(fake, "PATCH") == []

    def test_a_collection_that_stays_yellow_is_reported_unsettled(
        self, fake: FakeQdrant, qdrant: QdrantTarget, store: Store, clock: ManualClock
    ) -> None:
        """When the wait runs out the result says optimizing is still going on."""
        fake.add("c", status="grey", settle_after_gets=10_000)

        result = optimize(
            target=qdrant, store=store, clock=clock, name="c", wait_seconds=3
        )

        assert result["settled"] is False
        assert result["after"]["status"] == "yellow"


class TestInspect:
    def test_collections_info_and_cluster_over_http(
        self, fake: FakeQdrant, qdrant: QdrantTarget
    ) -> None:
        """The read commands parse the server's answers."""
        fake.add("content_embeddings", points=42)
        fake.add("users")

        names = [c["name"] for c in list_collections(target=qdrant)]
        info = collection_info(target=qdrant, name="content_embeddings")

        assert names == ["content_embeddings", "users"]
        assert (info["points_count"], info["segments_count"]) == (42, 4)
        assert cluster(target=qdrant)["status"] == "disabled"

    def test_an_enabled_cluster_reports_peers_and_raft(
        self, fake: FakeQdrant, qdrant: QdrantTarget
    ) -> None:
        """GET /cluster on a two-peer cluster: peers, leader and term come through."""
        fake.cluster_enabled = True

        status = cluster(target=qdrant)

        assert status["status"] == "enabled"
        assert sorted(status["peers"]) == ["1", "2"]
        assert (status["raft_info"]["leader"], status["raft_info"]["term"]) == (1, 3)

    def test_unknown_collection_is_not_found(
        self, fake: FakeQdrant, qdrant: QdrantTarget
    ) -> None:
        with pytest.raises(NotFound, match="doesn't exist"):
            collection_info(target=qdrant, name="ghost")


class TestSnapshots:
    def test_create_list_and_download_with_checksum(
        self, fake: FakeQdrant, qdrant: QdrantTarget, store: Store, tmp_path: Path
    ) -> None:
        """A snapshot is created, listed, and downloaded byte for byte."""
        fake.add("c")

        made = create_snapshot(target=qdrant, store=store, name="c")
        listed = list_snapshots(target=qdrant, name="c")
        got = download_snapshot(
            target=qdrant, name="c", snapshot=made["name"], dest=tmp_path / "s.snapshot"
        )

        assert [s["name"] for s in listed] == [made["name"]]
        data = (tmp_path / "s.snapshot").read_bytes()
        assert data == fake.collections["c"].snapshots[made["name"]]
        assert got["verified"] is True
        assert hashlib.sha256(data).hexdigest() == made["checksum"]

    def test_r6_restore_by_name_sends_a_file_url_with_priority_snapshot(
        self,
        fake: FakeQdrant,
        qdrant: QdrantTarget,
        store: Store,
        make_incident: Callable[..., int],
    ) -> None:
        """R6: a bare name becomes file://…/<collection>/<name>; priority snapshot."""
        incident = make_incident("Bad vectors")
        fake.add("content_embeddings")
        made = create_snapshot(target=qdrant, store=store, name="content_embeddings")

        result = restore_snapshot(
            target=qdrant,
            store=store,
            name="content_embeddings",
            source=made["name"],
            incident_id=incident,
        )

        [put] = sent(fake, "PUT")
        assert put["path"] == "/collections/content_embeddings/snapshots/recover"
        assert put["body"]["location"] == (
            f"file:///qdrant/snapshots/content_embeddings/{made['name']}"
        )
        assert put["body"]["priority"] == "snapshot"
        assert put["body"]["checksum"] == made["checksum"]
        assert result["recovered"] is True
        assert len(timeline(store, incident)) == 2

    def test_r6_restore_via_the_servers_url(
        self, fake: FakeQdrant, qdrant: QdrantTarget, store: Store
    ) -> None:
        """With via_url the location is the snapshot's URL on the same server."""
        fake.add("c")
        made = create_snapshot(target=qdrant, store=store, name="c")

        restore_snapshot(
            target=qdrant, store=store, name="c", source=made["name"], via_url=True
        )

        [put] = sent(fake, "PUT")
        assert put["body"]["location"] == (
            f"{fake.base_url}/collections/c/snapshots/{made['name']}"
        )

    def test_unknown_snapshot_name_is_refused_before_any_put(
        self, fake: FakeQdrant, qdrant: QdrantTarget, store: Store
    ) -> None:
        fake.add("c")

        with pytest.raises(NotFound, match="no snapshot named"):
            restore_snapshot(
                target=qdrant, store=store, name="c", source="nope.snapshot"
            )

        assert sent(fake, "PUT") == []

    def test_a_location_the_server_cannot_read_is_a_target_error(
        self, fake: FakeQdrant, qdrant: QdrantTarget, store: Store
    ) -> None:
        """The server's 400 comes back as a sentence, and the audit says failed."""
        fake.add("c")

        with pytest.raises(TargetError, match="cannot be read"):
            restore_snapshot(
                target=qdrant, store=store, name="c", source="/elsewhere/x.snapshot"
            )

        assert actions(store)[-1].outcome == "failed"

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("s.snapshot", "file:///qdrant/snapshots/c/s.snapshot"),
            ("/data/snaps/s.snapshot", "file:///data/snaps/s.snapshot"),
            ("https://backup.example/s.snapshot", "https://backup.example/s.snapshot"),
            ("file:///x/s.snapshot", "file:///x/s.snapshot"),
        ],
    )
    def test_snapshot_location(self, source: str, expected: str) -> None:
        """Names, paths and URLs each become a location Qdrant accepts."""
        target = connect("http://127.0.0.1:1")

        assert (
            snapshot_location(target=target, collection="c", source=source) == expected
        )

    def test_a_relative_path_is_refused(self) -> None:
        with pytest.raises(InputError):
            snapshot_location(
                target=connect("http://127.0.0.1:1"), collection="c", source="a/b"
            )
