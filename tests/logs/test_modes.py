"""Struct mode (read_json, aggregations) and text mode (raw lines) agree.

Random filters over a file of every line shape are counted twice: as rows
(text mode) and with ``| count`` (struct mode where the planner allows it).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mgops.errors import QueryError
from mgops.logs import FileSource, run_query
from mgops.logs.engine import _fetch, explain
from tests.logs.conftest import DATA

SHAPES = DATA / "mixed_shapes.jsonl"
FIELDS = [
    "path",
    "jsonPayload.path",
    "latencyMs",
    "jsonPayload.latencyMs",
    "userId",
    "tags",
    "error",
    "downstream",
    "severity",
    "timestamp",
    "resource.labels.namespace_name",
    "trace",
    "insertId",
    "path.nested",
]
VALUES = [
    '"/a"',
    "1000",
    '"u-42"',
    "x",
    "ERROR",
    "WARNING",
    '"2024-12-06T08:01:00Z"',
    "true",
    '"timeout"',
    "0",
    '"production"',
]
OPS = ["=", "!=", "<", "<=", ">", ">=", ":"]


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from(FIELDS))
    if draw(st.integers(0, 9)) == 0:
        return f"{field}:*"
    return f"{field}{draw(st.sampled_from(OPS))}{draw(st.sampled_from(VALUES))}"


filters = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} AND {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        inner.map(lambda p: f"NOT {p}"),
    ),
    max_leaves=4,
)


def count(query: str, *, strict: bool) -> int:
    result = run_query(query, [FileSource(SHAPES)], strict=strict)
    return int(result.rows[0][0]) if result.shape == "table" else len(result.rows)


@settings(max_examples=60, deadline=None)
@given(filters, st.booleans())
def test_struct_and_text_modes_agree(query: str, strict: bool) -> None:
    """A filter counts the same lines as rows and as an aggregation."""
    try:
        rows = count(query, strict=strict)
    except QueryError:
        return  # e.g. undefined_field under --strict
    by_count = count(query + " | count", strict=strict)

    assert rows == by_count


def test_count_uses_struct_mode() -> None:
    """The comparison above really exercises both modes."""
    assert explain("latencyMs>1000 | count")[1].mode == "struct"
    assert explain("latencyMs>1000")[1].mode == "text"


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=30))
def test_random_text_runs_or_raises_query_error(text: str) -> None:
    """Any text, run end to end over a real file, gives rows or a QueryError."""
    with contextlib.suppress(QueryError):
        run_query(text, [FileSource(SHAPES)])


def test_known_counts() -> None:
    """Hand-checked counts over the mixed shapes file."""
    expected = {
        "severity>=WARNING": 6,  # ERROR, warn, warning, err, 40, CRITICAL
        "latencyMs>1000": 3,  # 1500, [5,2000], 3000 ("900", "slow", null do not)
        'path="/a"': 4,
        "upstream": 3,  # e1 error, e3 text, the text line
        "NOT path:*": 3,  # e3, the text line, {}
        # 08:03Z only: 08:04 without an offset matches no timestamp comparison.
        'timestamp>="2024-12-06T08:02:00Z"': 1,
        'userId="u-42"': 2,
        "tags=x": 2,
        'downstream="true"': 2,
    }
    for query, number in expected.items():
        assert number == count(query, strict=False), query


def test_path_object(tmp_path: Path) -> None:
    """An object compared with a scalar is false, but it is present."""
    assert count('path="/a" path.nested:*', strict=False) == 0
    assert count("path.nested:*", strict=False) == 1


def exact_count(query: str) -> int:
    """Count with every value read as typed JSON (the reference reading)."""
    from mgops.logs.engine import _connect
    from mgops.logs.parse import parse_query
    from mgops.logs.plan import InputFile, build_plan

    plan = build_plan(
        parse_query(query + " | count"), [InputFile(str(SHAPES))], exact_types=True
    )
    connection = _connect(None, None)
    try:
        return int(connection.execute(plan.sql).fetchone()[0])
    finally:
        connection.close()


@settings(max_examples=60, deadline=None)
@given(filters)
def test_text_reading_matches_typed_reading(query: str) -> None:
    """Reading type-free fields as text changes no answer."""
    try:
        expected = exact_count(query)
    except QueryError:
        return

    assert count(query + " | count", strict=False) == expected


OBJECT_LINES = [
    '{"jsonPayload":{"path":"/a","latencyMs":1500},"severity":"ERROR"}',
    '{"jsonPayload":{"path":"/b"},"severity":"INFO","insertId":"1"}',
    '{"jsonPayload":"not an object","severity":"ERROR"}',
    '{"jsonPayload":{"path":["/a","/b"]},"severity":40}',
    '{"path":"/a","level":"error","latencyMs":"2000"}',
    '{"logName":{"odd":true},"severity":"WARNING"}',
    '{"textPayload":"upstream /a","severity":"ERROR"}',
    '{"severity":null,"jsonPayload":{"path":null}}',
    "{}",
]
AGGREGATES = [
    "severity>=ERROR | groupBy jsonPayload.path | count",
    "latencyMs>1000 | count",
    'path="/a" | groupBy severity',
    "severity>=WARNING | stats count() by path",
]


class TestStrictStructRead:
    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(st.sampled_from(OBJECT_LINES), max_size=10),
        st.sampled_from(AGGREGATES),
    )
    def test_strict_read_or_fallback_answers_alike(
        self, lines: list[str], query: str
    ) -> None:
        """A file of JSON objects is read strictly first; answers do not change."""
        from mgops.logs.engine import _connect
        from mgops.logs.parse import parse_query
        from mgops.logs.plan import InputFile, build_plan

        with tempfile.TemporaryDirectory() as work:
            path = Path(work) / "objects.jsonl"
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            answers = []
            for clean in (True, False):
                files = [InputFile(str(path), clean=clean)]
                plan = build_plan(parse_query(query), files)
                connection = _connect(None, None)
                try:
                    answers.append(_fetch(connection, plan))
                finally:
                    connection.close()

        assert answers[1] == answers[0]

    def test_late_text_line_falls_back(self, tmp_path: Path) -> None:
        """A text line past the sniffed head fails the strict read; the lenient
        read answers."""
        body = '{"jsonPayload":{"path":"/a"},"severity":"ERROR"}\n' * 2000
        path = tmp_path / "late.jsonl"
        path.write_text(body + "plain text ERROR line\n" + body, encoding="utf-8")

        result = run_query("severity>=ERROR | count", [FileSource(path)])

        assert [(4000,)] == result.rows

    def test_sniffed_objects_mark_the_file_clean(self) -> None:
        """Heads of JSON objects are clean; of LogEntries, entries too."""
        from mgops.logs.sources import _head_shape

        assert (True, False) == _head_shape(b'{"a":1}\n\n{"insertId":"2"}\n')
        assert (True, True) == _head_shape(b'{"logName":"x"}\n{"jsonPayload":{}}')
        assert (False, False) == _head_shape(b'{"a":1}\ntext\n')
        assert (False, False) == _head_shape(b'{"a":1}\n[1]\n')


def rows_with_hint(
    query: str, *, entries: bool, strict: bool
) -> list[tuple[object, ...]]:
    """Rows in text mode, planned as if the file did (not) look like LogEntries."""
    from mgops.logs.engine import _connect
    from mgops.logs.parse import parse_query
    from mgops.logs.plan import InputFile, build_plan

    files = [InputFile(str(SHAPES), entries=entries)]
    plan = build_plan(parse_query(query), files, strict=strict, force_text=True)
    connection = _connect(None, None)
    try:
        return list(connection.execute(plan.sql).fetchall())
    finally:
        connection.close()


@settings(max_examples=60, deadline=None)
@given(filters, st.booleans())
def test_lazy_flat_paths_change_no_answer(query: str, strict: bool) -> None:
    """Reading flat-only paths on demand (the LogEntry hint) changes no row,
    even when the hint is wrong, as it is for the mixed shapes file."""
    try:
        expected = rows_with_hint(query, entries=False, strict=strict)
    except QueryError:
        return

    assert expected == rows_with_hint(query, entries=True, strict=strict)


def test_lazy_flat_paths_are_read_on_demand() -> None:
    """With the hint, a flat-only path leaves the per-line extraction."""
    from mgops.logs.parse import parse_query
    from mgops.logs.plan import InputFile, build_plan

    query = parse_query("jsonPayload.latencyMs>1000")
    hinted = build_plan(query, [InputFile("x.jsonl", entries=True)]).sql
    plain = build_plan(query, [InputFile("x.jsonl")]).sql

    assert """'$."latencyMs"']""" in plain
    assert """'$."latencyMs"']""" not in hinted
    assert """try(json_extract_string(line, '$."latencyMs"'))""" in hinted
