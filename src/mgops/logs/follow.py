"""``--follow``: keep reading what is appended and print matching entries.

Each poll collects the complete new lines of every file (or stdin), writes them
to a small NDJSON batch and runs the same compiled filter over it, so a filter
means exactly what it means in a normal query. Only filters and ``fields`` are
allowed: an aggregation over an endless stream has no end to report at.
"""

from __future__ import annotations

import os
import select
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from mgops.clock import Clock
from mgops.errors import QueryError
from mgops.logs.engine import QueryResult, run_query
from mgops.logs.parse import parse_query
from mgops.logs.sources import FileSource

FOLLOW_STAGES = ("fields",)


def check_followable(query_text: str) -> None:
    query = parse_query(query_text)
    for stage in query.stages:
        if stage.kind not in FOLLOW_STAGES:
            raise QueryError(
                f"--follow takes filters and fields only, not {stage.kind}.",
                query=query_text,
                column=stage.column or None,
                code="follow_stage",
            )


class Tail:
    """New complete lines of a file or pipe since the last read.

    A file starts at its end (only what is appended shows); a pipe (stdin, a
    pod-log stream) is read as far as it has data, without waiting for more.
    """

    def __init__(self, handle: BinaryIO, *, from_start: bool = False) -> None:
        self.handle = handle
        self.rest = b""
        self.seekable = handle.seekable()
        if not from_start and self.seekable:
            handle.seek(0, 2)

    def read(self) -> bytes:
        data = self.rest + (self._available() or b"")
        cut = data.rfind(b"\n") + 1
        self.rest = data[cut:]
        return data[:cut]

    def _available(self) -> bytes:
        if self.seekable:
            return self.handle.read() or b""
        chunks = []
        # Only read while the pipe has data: read() would wait for its end.
        while select.select([self.handle], [], [], 0)[0]:
            chunk = os.read(self.handle.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def follow(
    query_text: str,
    tails: list[Tail],
    emit: Callable[[QueryResult], None],
    *,
    clock: Clock,
    strict: bool = False,
    interval: float = 0.5,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Poll ``tails`` every ``interval`` seconds until ``stop()`` says so."""
    check_followable(query_text)
    with tempfile.TemporaryDirectory(prefix="mgops-follow-") as work:
        batch = Path(work) / "batch.jsonl"
        while not stop():
            data = b"".join(tail.read() for tail in tails)
            if data:
                batch.write_bytes(data)
                emit(
                    run_query(query_text, [FileSource(batch, "follow")], strict=strict)
                )
            clock.sleep(interval)
