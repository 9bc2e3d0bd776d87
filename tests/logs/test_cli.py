"""``mgops logs`` end to end: the real console script in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.logs.conftest import DATA


def mgops(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mgops", "logs", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestQueryCommand:
    def test_json_output(self) -> None:
        """--format json prints rows, a count and the notes."""
        run = mgops(
            "query",
            "severity>=WARNING | count",
            str(DATA / "severity.jsonl"),
            "-f",
            "json",
        )

        assert run.returncode == 0
        assert json.loads(run.stdout)["rows"] == [{"count": 6}]

    def test_stdin_and_csv(self) -> None:
        """Lines piped into stdin are queried; CSV has a header."""
        run = mgops(
            "query",
            "latencyMs>1000",
            "--format",
            "csv",
            stdin=(DATA / "mixed_types.jsonl").read_bytes(),
        )

        assert run.returncode == 0
        assert run.stdout.splitlines()[0] == "timestamp,severity,message"
        assert len(run.stdout.splitlines()) == 3

    def test_syntax_error_has_caret_and_exit_code(self) -> None:
        """A bad query exits 2 with the query, a caret and what was expected."""
        run = mgops("query", "severity >= ", str(DATA / "severity.jsonl"))

        assert run.returncode == 2
        assert "severity >= \n            ^" in run.stderr
        assert "expected" in run.stderr

    def test_since_and_until(self) -> None:
        """--since/--until bound the entry time, outside the filter."""
        run = mgops(
            "query",
            "| count",
            str(DATA / "ts_offsets.jsonl"),
            "--since",
            "2024-12-06T08:00:00Z",
            "--until",
            "2024-12-06T08:00:01Z",
            "-f",
            "json",
        )

        assert json.loads(run.stdout)["rows"] == [{"count": 5}]

    def test_plot_writes_png(self, tmp_path: Path) -> None:
        """--plot writes the timechart as a PNG image."""
        image = tmp_path / "chart.png"

        run = mgops(
            "query",
            "| timechart 1h count()",
            str(DATA / "ts_offsets.jsonl"),
            "--plot",
            str(image),
        )

        assert run.returncode == 0, run.stderr
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class TestSavedQueries:
    def test_trace_by_bare_id(self, tmp_path: Path) -> None:
        """trace ID finds the LogEntry trace by its id (the runbook's = misses)."""
        path = tmp_path / "t.jsonl"
        path.write_text(
            '{"insertId":"a","trace":"projects/media-gateway/traces/4bf92f35"}\n'
            '{"insertId":"b","trace":"projects/media-gateway/traces/0000"}\n'
        )

        run = mgops("trace", "4bf92f35", str(path), "-f", "json")

        assert [r["entry"]["insertId"] for r in json.loads(run.stdout)["rows"]] == ["a"]

    def test_errors_by_path(self) -> None:
        """errors-by-path groups severe entries by jsonPayload.path."""
        run = mgops("errors-by-path", str(DATA / "mixed_shapes.jsonl"), "-f", "json")

        rows = json.loads(run.stdout)["rows"]
        assert {"jsonPayload.path": "/a", "count": 3} in rows

    def test_slow_takes_its_bound_from_ms(self, tmp_path: Path) -> None:
        """slow and slow-db: --ms is the bound, each with its own default."""
        path = tmp_path / "t.jsonl"
        path.write_text(
            '{"insertId":"a","jsonPayload":{"latencyMs":1500,"dbLatencyMs":50}}\n'
            '{"insertId":"b","jsonPayload":{"latencyMs":700,"dbLatencyMs":150}}\n'
        )

        def ids(*args: str) -> list[str]:
            run = mgops(*args, str(path), "-f", "json")
            return [r["entry"]["insertId"] for r in json.loads(run.stdout)["rows"]]

        assert ["a"] == ids("slow")
        assert ["a", "b"] == ids("slow", "--ms", "500")
        assert ["b"] == ids("slow-db")
        assert ["b", "a"] == ids("slow-db", "--ms", "10")

    def test_explain_shows_sql_and_prefilter(self) -> None:
        """explain prints the parse, the mode, the raw-line prefilter and SQL."""
        run = mgops("explain", 'jsonPayload.userId="u-42"')

        assert run.returncode == 0
        assert "raw-line prefilter" in run.stdout
        assert "read_csv" in run.stdout
