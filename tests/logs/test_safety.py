"""Field names and values never reach SQL raw."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mgops.errors import QueryError
from mgops.logs import QueryResult
from mgops.logs.engine import explain

Run = Callable[..., QueryResult]
HOSTILE = "x'); DROP TABLE t; --"


def test_quotes_in_values_and_keys(run: Run, write: Callable[..., Path]) -> None:
    """A key and a value full of SQL quotes match as plain text."""
    path = write(
        "q.jsonl",
        '{"a\'b": "x\'); DROP TABLE t; --"}\n{"a\'b": "other"}\n',
    )

    result = run(f'jsonPayload."a\'b"="{HOSTILE}"', path)
    bare = run(f'"{HOSTILE}"', path)

    assert len(result.rows) == 1
    assert len(bare.rows) == 1


def test_hostile_regex_is_a_query_error() -> None:
    """An invalid RE2 pattern is reported with bad_regex, not a DuckDB error."""
    with pytest.raises(QueryError) as caught:
        explain('message =~ "(unclosed"')

    assert caught.value.code == "bad_regex"


def test_nul_is_refused() -> None:
    """A NUL cannot travel in a SQL literal; it is a query error."""
    with pytest.raises(QueryError) as caught:
        explain('message = "a\\x00b"')

    assert caught.value.code == "nul"


def test_double_quotes_in_json_path(run: Run, write: Callable[..., Path]) -> None:
    """A key containing double quotes is reached with an escaped segment."""
    path = write("dq.jsonl", '{"\\"q\\"": 1}\n')

    assert len(run(r'jsonPayload."\"q\""=1', path).rows) == 1
