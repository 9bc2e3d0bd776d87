"""Real public samples (../shared/data/logs) give the counts jq gives."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mgops.logs import QueryResult
from tests.conftest import shared_path

Run = Callable[..., QueryResult]


@pytest.mark.parametrize(
    ("name", "query", "expected"),
    [
        ("hl_prometheus.log", "severity=WARNING | count", 1),
        ("hl_prometheus.log", "NOT msg:* | count", 5),
        ("hl_prometheus.log", "severity>=INFO | count", 33),
        ("hl_kitchen_sink.log", "severity>=ERROR | count", 2),
        ("hl_kitchen_sink.log", "severity=WARNING | count", 2),
        ("hl_kitchen_sink.log", "severity<INFO | count", 9),
        ("hl_kitchen_sink.log", "logger=api | count", 3),
        ("gcp_logging_plaso.jsonl", "severity=NOTICE | count", 8),
        ("gcp_logging_plaso.jsonl", "severity=DEFAULT | count", 2),
        ("gcp_logging_plaso.jsonl", "protoPayload:* | count", 8),
        ("timesketch_invalid.jsonl", "message:valid | count", 2),
    ],
)
def test_sample_counts(run: Run, name: str, query: str, expected: int) -> None:
    """Counts checked by hand with jq."""
    result = run(query, shared_path("data", "logs", name))

    assert [(expected,)] == result.rows


def test_timesketch_text_line_is_searchable(run: Run) -> None:
    """The prose line is kept as text and found by a bare word."""
    result = run(
        '"not a valid"', shared_path("data", "logs", "timesketch_invalid.jsonl")
    )

    assert [e.message for e in result.entries] == ["This is not a valid JSON line"]


def test_docker_samples(run: Run) -> None:
    """Docker lines unwrap: Istio JSON inside, Redis text, broken inner JSON."""
    folder = shared_path("data", "logs", "k8s_docker")

    total = run("| count", folder / "socks_session-db-fdd649d68-cq5sp_session-db.log")
    broken = run(
        'textPayload:"Simple text"',
        folder / "options_merge-log-enabled_invalid-json.log",
    )

    assert total.rows == [(1,)]
    assert len(broken.rows) == 1
