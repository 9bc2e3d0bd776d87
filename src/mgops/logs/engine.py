"""Run a query: prepare the sources, plan, execute on DuckDB, shape the result.

``run_query`` is the one core function every face calls (the CLI today, the
web console later). It never prints; progress goes to an optional callback.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mgops.errors import QueryError
from mgops.logs.ast import Query
from mgops.logs.parse import parse_query
from mgops.logs.plan import InputFile, Plan, build_plan, read_lines_sql
from mgops.logs.prefilter import narrow, needles
from mgops.logs.sources import LogSource, Prepared, prepare

ProgressCallback = Callable[[float], None]
_NAIVE_TIME = re.compile(r"\d\d:\d\d(:\d\d(\.\d+)?)?$")
_OFFSET = re.compile(r"([Zz]|[+-]\d\d:?\d\d)$")
_MESSAGE_KEYS = ("message", "msg", "textPayload", "log", "error")


@dataclass
class Entry:
    """One matching line: its time and severity as mgops read them, and itself."""

    timestamp: str | None
    severity: str
    message: str
    record: dict[str, Any] | str

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "severity": self.severity,
            "message": self.message,
            "entry": self.record,
        }


@dataclass
class QueryResult:
    """Rows of a query. ``shape`` is ``entries`` (``entries`` filled) or ``table``."""

    query: Query
    shape: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    entries: list[Entry] = field(default_factory=list)
    chart: bool = False
    notes: list[str] = field(default_factory=list)
    sql: str = ""
    mode: str = ""

    def records(self) -> list[dict[str, Any]]:
        if self.shape == "entries":
            return [e.to_dict() for e in self.entries]
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_query(
    query_text: str,
    sources: list[LogSource],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    strict: bool = False,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    threads: int | None = None,
    narrowing: bool = True,
) -> QueryResult:
    """Parse ``query_text`` and run it over ``sources``; raise ``QueryError``.

    ``narrowing`` lets a selective lookup skip lines that cannot match before
    DuckDB reads them (``prefilter``); switching it off changes no answer.
    """
    query = parse_query(query_text)
    wanted = needles(query.filter) if narrowing else None
    with tempfile.TemporaryDirectory(prefix="mgops-logs-") as work:
        workdir = Path(work)
        prepared = prepare(sources, workdir)
        files = narrow(prepared.files, wanted, workdir) if wanted else prepared.files
        connection = _connect(workdir, threads)
        try:
            plan = _plan(connection, query, files, strict, since, until, limit)
            try:
                rows = _execute(connection, plan, progress)
            except _Retry as retry:
                # Invalid UTF-8 or a line longer than the fast readers take:
                # rewrite every input as clean, uncompressed NDJSON, read as text.
                prepared = prepare(sources, workdir, sanitize=True)
                files = prepared.files
                if wanted:
                    files = narrow(files, wanted, workdir)
                plan = _plan(
                    connection, query, files, strict, since, until, limit, True
                )
                rows = _execute(connection, plan, progress)
                prepared.notes.append(retry.note)
            notes = prepared.notes + _text_line_note(connection, prepared)
        finally:
            connection.close()
    return _shape(query, plan, rows, notes)


def explain(query_text: str, *, strict: bool = False) -> tuple[Query, Plan]:
    """The parsed query and the SQL it runs as (over a placeholder file)."""
    query = parse_query(query_text)
    connection = _connect(None, 1)
    plan = _plan(
        connection, query, [InputFile("<input.jsonl>")], strict, None, None, None
    )
    connection.close()
    return query, plan


class _Retry(Exception):
    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


def _connect(workdir: Path | None, threads: int | None) -> Any:
    import duckdb

    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET memory_limit = '1200MB'")
    # DuckDB draws its own progress bar on stdout after two seconds, into the
    # CSV or JSON a caller is writing; progress goes to the callback instead.
    connection.execute("SET enable_progress_bar_print = false")
    if workdir is not None:
        connection.execute(f"SET temp_directory = '{_quote(str(workdir / 'spill'))}'")
    if threads:
        connection.execute(f"SET threads = {int(threads)}")
    return connection


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _plan(
    connection: Any,
    query: Query,
    files: list[InputFile],
    strict: bool,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    force_text: bool = False,
) -> Plan:
    def check_regex(pattern: str) -> str | None:
        try:
            connection.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
        except Exception as exc:  # DuckDB reports RE2 errors as its own types
            return str(exc).split("\n")[0].split(": ", 1)[-1]
        return None

    return build_plan(
        query,
        files,
        strict=strict,
        since=since,
        until=until,
        limit=limit,
        check_regex=check_regex,
        force_text=force_text,
    )


def _execute(
    connection: Any, plan: Plan, progress: ProgressCallback | None
) -> list[tuple[Any, ...]]:
    import duckdb

    done = threading.Event()
    watcher = None
    if progress is not None:
        watcher = threading.Thread(
            target=_watch, args=(connection, progress, done), daemon=True
        )
        watcher.start()
    try:
        rows: list[tuple[Any, ...]] = _fetch(connection, plan)
    except duckdb.Error as exc:
        text = str(exc)
        lowered = text.lower()
        if "unicode" in lowered or "utf-8" in lowered:
            raise _Retry("Invalid UTF-8 bytes were read as U+FFFD.") from None
        if "maximum_object_size" in lowered or "line size" in lowered:
            raise _Retry(
                "A very long line made mgops read the input as text."
            ) from None
        raise QueryError(
            f"The query could not run: {text.splitlines()[0]}",
            code="execution_error",
        ) from None
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    return rows


def _fetch(connection: Any, plan: Plan) -> list[tuple[Any, ...]]:
    import duckdb

    if plan.fallback_sql is not None:
        try:
            rows: list[tuple[Any, ...]] = connection.execute(plan.sql).fetchall()
        except duckdb.Error:
            pass  # a line the strict read refused; the lenient one decides
        else:
            return rows
        return connection.execute(plan.fallback_sql).fetchall()  # type: ignore[no-any-return]
    return connection.execute(plan.sql).fetchall()  # type: ignore[no-any-return]


def _watch(connection: Any, progress: ProgressCallback, done: threading.Event) -> None:
    while not done.wait(0.2):
        try:
            fraction = connection.query_progress()
        except Exception:  # progress is best effort; the query goes on
            return
        if fraction >= 0:
            progress(min(fraction / 100.0, 1.0))
    progress(1.0)


# Limitation: counting text lines takes its own pass, so it is skipped above this
# size; a counter inside DuckDB's scan would make it free.
TEXT_COUNT_MAX_BYTES = 256 << 20


def _text_line_note(connection: Any, prepared: Prepared) -> list[str]:
    if not prepared.files or prepared.total_bytes > TEXT_COUNT_MAX_BYTES:
        return []
    import duckdb

    reads = " UNION ALL ".join(
        read_lines_sql(InputFile(f.path, f.gzip, long_lines=True))
        for f in prepared.files
    )
    try:
        count = connection.execute(
            f"SELECT count(*) FROM ({reads}) WHERE trim(line) <> '' AND NOT "
            "(starts_with(ltrim(line), '{') AND coalesce(try(json_valid(line)), false))"
        ).fetchone()[0]
    except duckdb.Error:
        return []  # the note is a courtesy; the query already ran
    if not count:
        return []
    return [f"{count} line(s) were not JSON; they were kept and searched as text."]


def _shape(
    query: Query, plan: Plan, rows: list[tuple[Any, ...]], notes: list[str]
) -> QueryResult:
    result = QueryResult(
        query=query,
        shape=plan.shape,
        columns=plan.columns,
        rows=rows,
        chart=plan.timechart,
        notes=notes,
        sql=plan.sql,
        mode=plan.mode,
    )
    if _TIME_FILTER.search(query.text):
        result.notes.append(
            "Timestamps written without a UTC offset are read as UTC for display, "
            "ordering and --since/--until, but match no timestamp comparison."
        )
    if plan.shape != "entries":
        return result
    naive = 0
    for line, is_text, timestamp, severity in rows:
        record, message = _record(line, bool(is_text))
        if isinstance(record, dict) and _has_naive_time(record):
            naive += 1
        result.entries.append(Entry(timestamp, severity, message, record))
    result.columns = ["timestamp", "severity", "message"]
    result.rows = [(e.timestamp, e.severity, e.message) for e in result.entries]
    if naive:
        result.notes.append(
            f"{naive} matching entr{'y' if naive == 1 else 'ies'} had a timestamp "
            "without a UTC offset; read as UTC."
        )
    return result


_TIME_FILTER = re.compile(
    r"\b(timestamp|receiveTimestamp)\s*(=|!=|<=|>=|<|>)", re.IGNORECASE
)


def _record(line: str, is_text: bool) -> tuple[dict[str, Any] | str, str]:
    if is_text:
        return line, line
    try:
        record = json.loads(line)
    except ValueError:
        return line, line
    if not isinstance(record, dict):
        return line, line
    payload = (
        record.get("jsonPayload")
        if isinstance(record.get("jsonPayload"), dict)
        else record
    )
    for key in _MESSAGE_KEYS:
        value = payload.get(key) if isinstance(payload, dict) else None
        if value is None and key == "textPayload":
            value = record.get("textPayload")
        if isinstance(value, str) and value:
            return record, value
    proto = record.get("protoPayload")
    if isinstance(proto, dict) and isinstance(proto.get("methodName"), str):
        return record, proto["methodName"]
    return record, json.dumps(payload, ensure_ascii=False)[:200]


def _has_naive_time(record: dict[str, Any]) -> bool:
    for key in ("timestamp", "time", "ts", "@timestamp"):
        value = record.get(key)
        if isinstance(value, str):
            value = value.strip()
            return bool(_NAIVE_TIME.search(value)) and not _OFFSET.search(value)
    return False
