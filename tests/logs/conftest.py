"""Fixtures for the log tests: a runner over files written in tests/logs/data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mgops.logs import FileSource, QueryResult, run_query

DATA = Path(__file__).parent / "data"


@pytest.fixture
def run() -> Callable[..., QueryResult]:
    def runner(query: str, *paths: Path, **options: object) -> QueryResult:
        return run_query(query, [FileSource(p) for p in paths], **options)  # type: ignore[arg-type]

    return runner


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    def writer(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return writer
