"""Group commit: jobs share a transaction in savepoints; results follow the commit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from mgops.errors import InputError, StoreError
from mgops.store.batch import BatchWriter
from mgops.store.db import Store
from mgops.store.models import ApiToken

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def add_token(name: str) -> Callable[[Session], str]:
    def job(session: Session) -> str:
        session.add(
            ApiToken(
                name=name,
                role="viewer",
                token_hash=f"hash-{name}",
                prefix="abc",
                created_at=NOW,
            )
        )
        session.flush()
        return name

    return job


def names(store: Store) -> list[str]:
    with store.session() as session:
        return sorted(session.scalars(select(ApiToken.name)))


@pytest.fixture
def writer(store: Store) -> Iterator[BatchWriter]:
    writer = BatchWriter(store, max_batch=16)
    yield writer
    writer.close()


class TestBatchWriter:
    def test_a_failing_job_loses_only_its_own_writes(
        self, store: Store, writer: BatchWriter
    ) -> None:
        """Three jobs in one batch; the middle one raises after writing."""

        def bad(session: Session) -> None:
            add_token("half-done")(session)
            raise InputError("The job refuses.")

        started, gate = threading.Event(), threading.Event()
        # Holds the writer's thread, so the next three queue up as one batch.
        writer.submit(lambda _s: (started.set(), gate.wait(5)))
        started.wait(5)
        futures = [
            writer.submit(add_token("first")),
            writer.submit(bad),
            writer.submit(add_token("third")),
        ]
        gate.set()

        assert futures[0].result(5) == "first"
        with pytest.raises(InputError, match="refuses"):
            futures[1].result(5)
        assert futures[2].result(5) == "third"
        assert names(store) == ["first", "third"]
        assert writer.batches == 2  # the gate's batch, then the three together

    def test_a_batch_that_succeeds_takes_no_savepoint(
        self, store: Store, writer: BatchWriter
    ) -> None:
        """Savepoints are paid only after a failure; a clean batch has none."""
        statements: list[str] = []

        def on_execute(*args: object) -> None:
            statements.append(str(args[2]).split()[0].upper())

        started, gate = threading.Event(), threading.Event()
        writer.submit(lambda _s: (started.set(), gate.wait(5)))
        started.wait(5)
        event.listen(store.engine, "before_cursor_execute", on_execute)
        try:
            futures = [writer.submit(add_token(f"t{i}")) for i in range(3)]
            gate.set()
            results = [f.result(5) for f in futures]
        finally:
            event.remove(store.engine, "before_cursor_execute", on_execute)

        assert ["t0", "t1", "t2"] == results
        assert "SAVEPOINT" not in statements
        assert 3 == statements.count("INSERT")

    def test_a_result_means_committed(self, store: Store, writer: BatchWriter) -> None:
        """No job's future is resolved before its transaction commits."""
        futures: list[Future[str]] = []
        done_at_commit: list[bool] = []

        def on_commit(_conn: object) -> None:
            done_at_commit.append(futures[0].done())

        gate = threading.Event()
        writer.submit(lambda _s: gate.wait(5))
        event.listen(store.engine, "commit", on_commit)
        try:
            futures.append(writer.submit(add_token("durable")))
            gate.set()
            result = futures[0].result(5)
        finally:
            event.remove(store.engine, "commit", on_commit)

        assert result == "durable"
        assert done_at_commit == [False]  # the gate wrote nothing: no commit of its own
        assert names(store) == ["durable"]

    def test_a_failed_commit_fails_every_job_of_the_batch(
        self, store: Store, writer: BatchWriter
    ) -> None:
        """Two jobs whose writes collide only at commit: both callers hear of it."""

        def refuse(_conn: object) -> None:
            raise RuntimeError("disk full")

        gate = threading.Event()
        writer.submit(lambda _s: gate.wait(5))
        event.listen(store.engine, "commit", refuse)
        try:
            futures = [
                writer.submit(add_token("a")),
                writer.submit(add_token("b")),
            ]
            gate.set()
            errors = [f.exception(5) for f in futures]
        finally:
            event.remove(store.engine, "commit", refuse)

        assert [type(e) for e in errors] == [RuntimeError, RuntimeError]
        assert names(store) == []

    def test_a_store_error_in_a_job_is_a_sentence(
        self, store: Store, writer: BatchWriter
    ) -> None:
        """A constraint broken by one job is reported as StoreError to that job."""
        writer.run(add_token("same"))

        with pytest.raises(StoreError, match="refused the change"):
            writer.run(add_token("same"))
        assert writer.run(add_token("other")) == "other"
        assert names(store) == ["other", "same"]

    def test_close_finishes_queued_jobs_and_a_later_submit_restarts(
        self, store: Store
    ) -> None:
        writer = BatchWriter(store)
        futures = [writer.submit(add_token(f"t{i}")) for i in range(20)]
        writer.close()

        assert all(f.done() for f in futures)
        assert writer.run(add_token("after")) == "after"
        writer.close()
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(ApiToken)) == 21
