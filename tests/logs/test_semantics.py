"""Missing fields, arrays, case, and pipe stages, on small inline files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mgops.logs import QueryResult

Run = Callable[..., QueryResult]
LINES = (
    '{"f":"foo","n":1,"tags":["a","b"]}\n'
    '{"f":"bar","n":5,"tags":[]}\n'
    '{"n":9,"path":"/x","lat":100}\n'
    '{"f":null,"path":"/x","lat":300}\n'
)


@pytest.fixture
def entries(write: Callable[..., Path]) -> Path:
    return write("e.jsonl", LINES)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('f != "foo"', 1),
        ('NOT f = "foo"', 3),
        ("f:*", 3),
        ("NOT f:*", 1),
        ('f = "FOO"', 1),
        ("f = NULL_VALUE", 1),
        ('tags != "a"', 1),
        ('NOT tags = "a"', 3),
        ('f =~ "^b"', 1),
        ('f !~ "^b"', 1),
        ("n >= 5", 2),
        ('f = ("foo" OR "bar")', 2),
        ("FOO", 1),
    ],
)
def test_missing_field_rules(
    run: Run, entries: Path, query: str, expected: int
) -> None:
    """Reference sections 2-4: != versus NOT =, presence, arrays, case."""
    assert [(expected,)] == run(query + " | count", entries).rows


def test_stages(run: Run, entries: Path) -> None:
    """groupBy/count, stats, top, orderBy and limit give the expected tables."""
    grouped = run("path:* | groupBy path | count", entries)
    stats = run("| stats count(), avg(lat), max(lat) by path", entries)
    ordered = run("lat:* | orderBy lat desc | fields lat", entries)
    top = run("| top 1 path", entries)

    assert grouped.rows == [("/x", 2)]
    assert stats.rows == [("/x", 2, 200.0, 300.0), (None, 2, None, None)]
    assert ordered.rows == [("300",), ("100",)]
    assert top.rows == [(None, 2)] or top.rows == [("/x", 2)]


def test_timechart(run: Run, write: Callable[..., Path]) -> None:
    """timechart buckets entries by time."""
    path = write(
        "t.jsonl",
        '{"timestamp":"2024-12-06T08:00:10Z"}\n{"timestamp":"2024-12-06T08:00:50Z"}\n'
        '{"timestamp":"2024-12-06T08:01:10Z"}\n',
    )

    result = run("| timechart 1m count()", path)

    assert [row[1] for row in result.rows] == [2, 1]
    assert result.chart


def test_terminal_chart_draws_bars(run: Run, write: Callable[..., Path]) -> None:
    """The timechart's terminal chart has bars and the bucket labels."""
    import io

    from mgops.logs.render import terminal_chart

    path = write(
        "c.jsonl",
        '{"timestamp":"2024-12-06T08:00:10Z"}\n{"timestamp":"2024-12-06T08:00:50Z"}\n'
        '{"timestamp":"2024-12-06T08:01:10Z"}\n',
    )
    out = io.StringIO()

    terminal_chart(run("| timechart 1m count()", path), out)

    assert "█" in out.getvalue()
    assert "12-06 08:01" in out.getvalue()
