"""--follow: appended lines are filtered as they arrive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mgops.clock import ManualClock
from mgops.errors import QueryError
from mgops.logs import QueryResult
from mgops.logs.follow import Tail, check_followable, follow


def test_follow_prints_only_new_matching_lines(tmp_path: Path) -> None:
    """Lines present before following are skipped; new matches are emitted."""
    path = tmp_path / "app.jsonl"
    path.write_text('{"severity":"ERROR","msg":"old"}\n')
    appends = iter(
        [
            '{"severity":"ERROR","msg":"one"}\n{"severity":"INFO","msg":"two"}\n',
            '{"severity":"CRIT',  # half a line: held back until complete
            'ICAL","msg":"three"}\n',
        ]
    )
    seen: list[str] = []
    polls = 0

    def stop() -> bool:
        nonlocal polls
        polls += 1
        chunk = next(appends, None)
        if chunk is not None:
            with path.open("a") as handle:
                handle.write(chunk)
        return polls > 5

    def emit(result: QueryResult) -> None:
        seen.extend(e.message for e in result.entries)

    with path.open("rb") as handle:
        follow(
            "severity>=ERROR",
            [Tail(handle)],
            emit,
            clock=ManualClock(datetime(2026, 3, 2, tzinfo=UTC)),
            stop=stop,
        )

    assert seen == ["one", "three"]


def test_follow_refuses_aggregations() -> None:
    """Only filters and fields make sense on an endless stream."""
    with pytest.raises(QueryError) as caught:
        check_followable("severity>=ERROR | count")

    assert caught.value.code == "follow_stage"


def test_tail_of_a_pipe_does_not_wait_for_its_end() -> None:
    """A pipe gives what it has now; a half line waits for its newline."""
    import os

    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader:
        tail = Tail(reader, from_start=True)
        os.write(write_end, b'{"a":1}\n{"a":')

        first = tail.read()
        os.write(write_end, b"2}\n")
        second = tail.read()
        os.close(write_end)

    assert first == b'{"a":1}\n'
    assert second == b'{"a":2}\n'
