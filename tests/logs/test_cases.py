"""The hard cases of ../shared/cases/README.md ("Logs"), on copies in data/ and
on the shared originals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mgops.logs import QueryResult
from tests.conftest import shared_path
from tests.logs.conftest import DATA

Run = Callable[..., QueryResult]
SOURCES = ["local", "shared"]


def case(name: str, where: str) -> Path:
    if where == "shared":
        return shared_path("cases", "logs", name)
    return DATA / name


def records(result: QueryResult) -> list[object]:
    return [e.record for e in result.entries]


@pytest.mark.parametrize("where", SOURCES)
class TestLogCases:
    def test_late_key(self, run: Run, where: str) -> None:
        """A key first seen after 20,480 lines is found, by rows and by count."""
        path = case("late_key.jsonl", where)

        assert len(run('jsonPayload.b="late"', path).rows) == 1
        assert run('jsonPayload.b="late" | count', path).rows == [(1,)]

    def test_mixed_types(self, run: Run, where: str) -> None:
        """1500 and "1500" match latencyMs>1000; "slow", null and absent do not."""
        result = run("latencyMs>1000", case("mixed_types.jsonl", where))

        assert records(result) == [{"latencyMs": 1500}, {"latencyMs": "1500"}]

    def test_mixed_types_strict(
        self, run: Run, where: str, write: Callable[..., Path]
    ) -> None:
        """--strict: flat lines are no payload, and strings compare as text."""
        flat = run(
            "jsonPayload.latencyMs>1000", case("mixed_types.jsonl", where), strict=True
        )
        lines = case("mixed_types.jsonl", where).read_text().splitlines()
        wrapped = write(
            "entries.jsonl", "".join(f'{{"jsonPayload":{x}}}\n' for x in lines)
        )
        result = run("jsonPayload.latencyMs>1000", wrapped, strict=True)

        assert flat.rows == []
        assert [
            r["jsonPayload"]["latencyMs"]
            for r in records(result)  # type: ignore[index]
        ] == [1500, "1500", "slow"]

    def test_dotted_keys(self, run: Run, where: str) -> None:
        """A quoted dotted key and a nested path are different fields."""
        path = case("dotted_keys.jsonl", where)

        quoted = run('jsonPayload."id.orig_h"="10.0.0.1"', path)
        nested = run('jsonPayload.id.orig_h="10.0.0.2"', path)
        crossed = run('jsonPayload.id.orig_h="10.0.0.1"', path)
        labels = run('labels."k8s-pod/app"="web"', path)

        assert 1 == len(quoted.rows) == len(nested.rows) == len(labels.rows)
        assert crossed.rows == []

    def test_mixed_text_line(self, run: Run, where: str) -> None:
        """Three JSON lines match message:ok; the text line is kept and counted."""
        path = case("mixed.jsonl", where)

        result = run("message:ok", path)
        traceback = run("Traceback", path)

        assert len(result.rows) == 3
        assert any("1 line(s) were not JSON" in n for n in result.notes)
        assert records(traceback) == ["Traceback (most recent call last):"]

    def test_timestamp_offsets(self, run: Run, where: str) -> None:
        """The same instant in three notations matches; no offset matches no filter."""
        path = case("ts_offsets.jsonl", where)

        result = run('timestamp="2024-12-06T08:00:00Z"', path)
        strict = run('timestamp="2024-12-06T08:00:00Z"', path, strict=True)

        stamps = [r["timestamp"] for r in records(result)]  # type: ignore[index]
        assert stamps == [
            "2024-12-06T08:00:00Z",
            "2024-12-06T09:00:00+01:00",
            "2024-12-06T03:00:00-05:00",
        ]
        assert any("without a UTC offset are read as UTC" in n for n in result.notes)
        assert len(strict.rows) == 3

    def test_severity_spellings(self, run: Run, where: str) -> None:
        """Names in any case, WARN, level: warn and pino 40 count as WARNING."""
        path = case("severity.jsonl", where)

        result = run("severity>=WARNING", path)
        default = run("severity<DEBUG", path)
        strict = run("severity>=WARNING", path, strict=True)

        assert [e.severity for e in result.entries] == ["WARNING"] * 5 + ["ERROR"]
        assert records(default) == [{}]
        assert len(strict.rows) == 3

    def test_gzip_members(self, run: Run, where: str) -> None:
        """Both gzip members are read."""
        result = run("", case("multi.jsonl.gz", where))

        assert records(result) == [{"n": 1}, {"n": 2}]

    def test_gke_logentry(self, run: Run, where: str) -> None:
        """The namespace filter finds the first entry; a bare word the second."""
        path = case("logentry_gke.jsonl", where)

        errors = run(
            'resource.labels.namespace_name="production" severity>=ERROR', path
        )
        text = run("plain", path)

        assert [r["insertId"] for r in records(errors)] == ["abc1"]  # type: ignore[index]
        assert [r["insertId"] for r in records(text)] == ["abc2"]  # type: ignore[index]


class TestInputs:
    def test_bom_and_invalid_utf8(self, run: Run, write: Callable[..., Path]) -> None:
        """A BOM and invalid bytes never break a query or its JSON output."""
        path = write("bad.jsonl", b'\xef\xbb\xbf{"m":"a"}\n{"m":"b\xff\xfe"}\n')

        result = run("m:b", path)
        everything = run("", path)

        assert len(result.rows) == 1
        assert len(everything.rows) == 2
        from mgops.logs.render import to_json

        json.loads(to_json(result))

    def test_empty_file(self, run: Run, write: Callable[..., Path]) -> None:
        """An empty file gives no rows and no error."""
        assert run("a", write("empty.jsonl", "")).rows == []
        assert run("| count", write("empty2.jsonl", "")).rows == [(0,)]

    def test_huge_line(self, run: Run, write: Callable[..., Path]) -> None:
        """A 20 MB line does not fail a field query or a count."""
        path = write("huge.jsonl", '{"m":"' + "x" * 20_000_000 + '"}\n{"a":1}\n')

        assert len(run("a=1", path).rows) == 1
        assert run("a=1 | count", path).rows == [(1,)]

    def test_gcloud_array(self, run: Run, write: Callable[..., Path]) -> None:
        """A JSON array as gcloud writes it is one entry per element."""
        path = write(
            "read.json", json.dumps([{"severity": "ERROR"}, {"severity": "INFO"}])
        )

        assert run("severity>=ERROR | count", path).rows == [(1,)]

    def test_docker_and_cri(self, run: Run, write: Callable[..., Path]) -> None:
        """Docker json-file lines unwrap; CRI partial lines are joined."""
        docker = write(
            "d.log",
            '{"log":"{\\"level\\":\\"error\\",\\"msg\\":\\"boom\\"}\\n","stream":"stderr",'
            '"time":"2024-12-06T08:00:00Z"}\n',
        )
        cri = write(
            "c.log",
            "2024-12-06T08:00:00Z stdout P part one \n"
            "2024-12-06T08:00:00Z stdout F and two\n",
        )

        assert len(run("severity>=ERROR msg:boom", docker).rows) == 1
        assert [e.message for e in run('"one and two"', cri).entries] == [
            "part one and two"
        ]

    def test_stdin_like_lines_source(self) -> None:
        """A LinesSource (the pod-log seam) is queried like a file."""
        from mgops.logs import LinesSource, run_query

        result = run_query("a>1 | count", [LinesSource(['{"a":1}', '{"a":2}', "text"])])

        assert result.rows == [(1,)]


class TestRetries:
    def test_stdin_with_invalid_utf8_survives_the_retry(self) -> None:
        """A stream is read once; the UTF-8 retry reuses its saved bytes."""
        import io

        from mgops.logs import StreamSource, run_query

        stream = io.BytesIO(b'{"m":"ok"}\n{"m":"bad \xff"}\n')

        result = run_query("m:* | count", [StreamSource(stream)])

        assert result.rows == [(2,)]
        assert any("U+FFFD" in note for note in result.notes)

    def test_progress_callback_reaches_the_end(self) -> None:
        """run_query reports progress through the callback, ending at 1.0."""
        from mgops.logs import FileSource, run_query

        seen: list[float] = []

        run_query(
            "| count", [FileSource(DATA / "late_key.jsonl")], progress=seen.append
        )

        assert seen[-1] == 1.0


class TestDiscovery:
    def test_gzip_by_magic_bytes_in_a_directory(self, tmp_path: Path) -> None:
        """A directory is read recursively; gzip is found by content, not name."""
        import gzip

        from mgops.logs import run_query, sources_from_args

        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "app.log").write_bytes(gzip.compress(b'{"a":1}\n{"a":2}\n'))
        (tmp_path / "plain.jsonl").write_text('{"a":3}\n')
        (tmp_path / ".hidden").write_text('{"a":4}\n')

        result = run_query("a>=1 | count", sources_from_args([str(tmp_path)]))

        assert result.rows == [(3,)]


def test_short_bare_word_over_a_huge_line(write: Callable[..., Path], run: Run) -> None:
    """A one-letter bare word does not walk a 60 MB line that cannot hold it."""
    path = write("huge.jsonl", '{"m":"' + "x" * 60_000_000 + '"}\n{"m":"y"}\n')

    assert len(run("y", path).rows) == 1
