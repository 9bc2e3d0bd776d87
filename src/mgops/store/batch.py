"""Group commit: many small write jobs share one transaction, each in a savepoint.

Alert intake is a stream of tiny transactions (find the group, touch the alert,
add a timeline line). Run one per request on a thread pool and the requests
spend their time queueing for SQLite's single write lock, for pool connections
and for the GIL. A :class:`BatchWriter` runs them on one thread instead: it
takes every job already waiting (up to ``max_batch``), runs each inside its own
savepoint of one transaction, commits once, and only then hands out results, so
a caller that got an answer knows its write is stored. A job that raises rolls
back its own savepoint and gets the error; the others in its batch still commit.
If the commit itself fails, every job in the batch gets that error. Savepoints
are only taken when needed: a batch first runs without them, and only when a
job or the commit fails does it run again job by job, each in a savepoint.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mgops.errors import StoreError
from mgops.store.db import Store

logger = logging.getLogger("mgops.store.batch")

T = TypeVar("T")


@dataclass
class _Job:
    fn: Callable[[Session], Any]
    future: Future[Any]


class BatchWriter:
    """One thread that runs write jobs in shared transactions (see module doc)."""

    def __init__(self, store: Store, *, max_batch: int = 64, name: str = "") -> None:
        self.store = store
        self.max_batch = max_batch
        self.name = name or "mgops-batch-writer"
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.jobs = 0

    def submit(self, fn: Callable[[Session], T]) -> Future[T]:
        """Queue ``fn``; the future resolves once its transaction has committed."""
        future: Future[T] = Future()
        with self._start_lock:  # never behind the stop mark of a closing thread
            self._ensure_started()
            self._jobs.put(_Job(fn, future))
        return future

    def run(self, fn: Callable[[Session], T]) -> T:
        """Submit and wait: the result once it is committed, or the job's error."""
        return self.submit(fn).result()

    def close(self) -> None:
        """Finish what is queued, then stop the thread (a later submit starts anew)."""
        with self._start_lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._jobs.put(None)
                thread.join()

    def _ensure_started(self) -> None:
        """Start the thread if none runs (called with ``_start_lock`` held)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name=self.name, daemon=True
            )
            self._thread.start()

    def _take(self) -> tuple[list[_Job], bool]:
        """The next batch: one job waited for, then whatever is already queued."""
        first = self._jobs.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._take()
            if not batch:
                continue
            try:
                self._run_batch(batch)
            except BaseException as exc:  # the thread carries on; callers hear of it
                logger.exception("intake batch failed")
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _run_batch(self, batch: list[_Job]) -> None:
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
        outcomes = self._all_or_nothing(batch)
        if outcomes is None:
            outcomes = self._one_by_one(batch)
        if outcomes is None:
            return
        self.batches += 1
        self.jobs += len(batch)
        for job, ok, value in outcomes:
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    def _all_or_nothing(self, batch: list[_Job]) -> list[tuple[_Job, bool, Any]] | None:
        """Every job in one transaction with no savepoints: the common case.

        Savepoints cost two statements a job (two round trips on PostgreSQL), so
        they are only paid when something failed: then nothing of this attempt
        is kept and the batch runs again job by job. Jobs are plain functions of
        the session, so running one again after a rollback does it once.
        """
        session = self.store.new_session()
        try:
            values = [job.fn(session) for job in batch]
            session.commit()
        except BaseException:  # run again one by one, where each job hears its own
            session.rollback()
            return None
        finally:
            session.close()
        return [(job, True, value) for job, value in zip(batch, values, strict=True)]

    def _one_by_one(self, batch: list[_Job]) -> list[tuple[_Job, bool, Any]] | None:
        """Each job in its own savepoint; a job that fails loses only its writes."""
        outcomes: list[tuple[_Job, bool, Any]] = []
        session = self.store.new_session()
        try:
            for job in batch:
                outcomes.append(self._run_job(session, job))
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            error = StoreError(f"The store refused the change: {exc}.")
            for job in batch:
                job.future.set_exception(error)
            return None
        except BaseException as exc:  # every caller of the batch hears of it
            session.rollback()
            for job in batch:
                job.future.set_exception(exc)
            return None
        finally:
            session.close()
        return outcomes

    @staticmethod
    def _run_job(session: Session, job: _Job) -> tuple[_Job, bool, Any]:
        savepoint = session.begin_nested()
        try:
            value = job.fn(session)
            savepoint.commit()
        except SQLAlchemyError as exc:
            savepoint.rollback()
            return job, False, StoreError(f"The store refused the change: {exc}.")
        except BaseException as exc:  # the job's own error, for its caller alone
            savepoint.rollback()
            return job, False, exc
        return job, True, value
