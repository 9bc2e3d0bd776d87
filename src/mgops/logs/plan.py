"""A parsed query and its input files → one DuckDB SQL statement.

Two ways to read the lines, chosen per query:

* **text mode** reads each line as one VARCHAR (``read_csv`` with a delimiter that
  never occurs), drops lines that cannot contain the query's required literals
  (a plain substring test before any JSON is parsed), then extracts every path
  the query needs with one ``json_extract(line, [paths])`` call (and one
  ``json_extract_string`` for paths read as text). It keeps the raw line, so it
  serves row output, bare words, ``SEARCH`` and ``textPayload``.
* **struct mode** asks ``read_json`` for exactly the paths the query reads,
  declared as nested STRUCTs whose leaves are JSON (or VARCHAR when read as
  text), so no schema is ever inferred (late keys and keys that change type are
  still found) and each line is parsed once. It serves aggregations that need no
  raw line.

A field is read as text when no comparison on it depends on its JSON type
(``typed_paths``): cheaper, and checked against the all-JSON reading by a
property test. Both modes hand the same values to ``FilterCompiler``, so a
filter means the same in either; another property test checks that too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mgops.errors import QueryError
from mgops.logs.ast import (
    And,
    Compare,
    Global,
    Node,
    Not,
    Or,
    Path,
    Query,
    Search,
    Value,
)
from mgops.logs.compile import (
    NUMBER_LITERAL,
    FilterCompiler,
    instant_sql,
    search_tokens,
    sql_ident,
    sql_string,
    text_kind_sql,
)
from mgops.logs.fields import ENTRY_MARKERS, Field, JsonPath, json_path, resolve

# DuckDB sizes its read buffers from the line limit, and big buffers cost
# parallelism, so the first attempt allows 8 MB lines; a longer line makes the
# engine rewrite the input and read it again with LONG_LINE_BYTES.
MAX_LINE_BYTES = 8 << 20
LONG_LINE_BYTES = 1 << 30  # one huge line must not fail the query
# read_json sizes its buffers by this, so it stays modest; a longer line makes
# the struct read fail and the query falls back to text mode (see engine).
STRUCT_MAX_LINE_BYTES = 16 << 20
# A placeholder no query text can produce: sql_string() refuses NUL.
_TEXT_TEST = "\x00text\x00"
_SPAN_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
# Columns struct mode adds beside the top-level keys it reads (names ignore case).
_STRUCT_RESERVED = {"__t", "__d", "__g"}
_AGGREGATING = ("groupBy", "count", "stats", "top", "timechart")


@dataclass(frozen=True)
class InputFile:
    """A file DuckDB reads directly: NDJSON, plain or gzip."""

    path: str
    gzip: bool = False
    long_lines: bool = False
    # Every line seen when sniffing was a JSON object: struct mode first tries
    # reading it without ignore_errors, which costs DuckDB a fifth of its scan.
    clean: bool = False
    # Every sniffed line was a LogEntry: paths only flat lines use are read
    # on demand rather than with every line's extraction.
    entries: bool = False


@dataclass
class Plan:
    sql: str
    mode: str  # "text" or "struct"
    shape: str  # "entries" (one row per matching line) or "table"
    columns: list[str] = field(default_factory=list)
    prefilter: str | None = None
    timechart: bool = False
    # Run when ``sql`` fails: the same statement, reading every line leniently.
    fallback_sql: str | None = None


def build_plan(
    query: Query,
    files: list[InputFile],
    *,
    strict: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    check_regex: Callable[[str], str | None] = lambda _: None,
    force_text: bool = False,
    exact_types: bool = False,
) -> Plan:
    """Compile ``query`` over ``files``; struct mode when the query allows it.

    ``exact_types`` reads every value as typed JSON, never as text: slower, and
    the reference the text reading is tested against.
    """
    struct = not force_text and _struct_possible(query)
    for mode in ("struct", "text") if struct else ("text",):
        builder = _Builder(query, files, strict, mode, check_regex, exact_types)
        try:
            return builder.build(since, until, limit)
        except _NeedsText:
            continue
    raise AssertionError("text mode plans every query")


class _NeedsText(Exception):
    """Struct mode cannot express this query; fall back to text mode."""


def _struct_possible(query: Query) -> bool:
    aggregating = any(s.kind in _AGGREGATING for s in query.stages)
    return (
        aggregating
        and prefilter_sql(query.filter) is None
        and not _tests_presence(query.filter)
    )


def _tests_presence(node: Node | None) -> bool:
    """read_json turns JSON null into SQL NULL, so ``:*``/NULL_VALUE need text."""
    if isinstance(node, And | Or):
        return any(_tests_presence(i) for i in node.items)
    if isinstance(node, Not):
        return _tests_presence(node.item)
    if isinstance(node, Compare):
        return node.op == ":*" or type(node.value).__name__ == "NullValue"
    return False


class _Builder:
    def __init__(
        self,
        query: Query,
        files: list[InputFile],
        strict: bool,
        mode: str,
        check_regex: Callable[[str], str | None],
        exact_types: bool = False,
    ) -> None:
        self.query = query
        self.files = files
        self.strict = strict
        self.mode = mode
        self.paths: list[JsonPath] = []
        self.text_paths: list[JsonPath] = []
        self.typed_paths = typed_paths(query, strict)
        self.exact_types = exact_types
        self.derived: dict[str, str] = {}
        self.deriving = True
        self.binds_text = False
        self.compiler = FilterCompiler(
            query.text,
            strict=strict,
            value=self.value,
            check_regex=check_regex,
            derive=self.derive,
            facet=self.facet,
            entry_test=self.entry_test(),
            is_text=self.is_text,
            textual=self.textual,
            flat_value=self.flat_value,
        )
        self.facets: dict[str, str] = {}
        self.lazy_flat = bool(files) and all(f.entries for f in files)
        self.relation = "__lines"  # where the filter reads; see bind_values

    def entry_test(self) -> str:
        """SQL that tells a LogEntry line from a flat payload line."""
        if self.mode == "struct":
            present = " OR ".join(f"{sql_ident(m)} IS NOT NULL" for m in ENTRY_MARKERS)
            return f"({present})"
        markers = " OR ".join(
            f"contains(line, {sql_string(chr(34) + m + chr(34) + ':')})"
            for m in ENTRY_MARKERS
        )
        return f"({markers})"

    def is_text(self) -> str:
        """SQL true for a text line; inside a text-mode filter, the bound list."""
        if self.mode == "text" and self.deriving:
            self.binds_text = True
            return _TEXT_TEST  # resolved in bind_values, once the lists are known
        return "__t"

    def derive(self, expr: str) -> str:
        """Compute a filter field's value once per line: ``__d.fN``."""
        if not self.deriving:
            return expr
        if expr not in self.derived:
            self.derived[expr] = f"__d.f{len(self.derived) + 1}"
        return self.derived[expr]

    def facet(self, value: str, kind: str) -> str | None:
        """``__g.fN_k`` (JSON type) or ``__g.fN_s`` (text) of a derived value."""
        if value not in self.derived.values():
            return None
        name = f"__g.{value.removeprefix('__d.')}_{kind}"
        if name not in self.facets:
            self.facets[name] = {
                "k": _kind_sql,
                "s": _text_sql,
                "t": text_kind_sql,
            }[kind](value)
        return name

    # Values -------------------------------------------------------------------

    def value(self, path: JsonPath, as_text: bool = False) -> str:
        """SQL for the value at ``path``: JSON, or its text when ``as_text``."""
        if self.mode == "text":
            return self.line_value(path, as_text)
        if path not in self.paths:
            self.paths.append(path)
        head, *rest = path
        if head.lower() in _STRUCT_RESERVED:
            raise _NeedsText  # a column of that name would be ambiguous
        column = sql_ident(head) + "".join(f"[{sql_string(p)}]" for p in rest)
        if self.is_typed(path):
            return f"({column}->>'$')" if as_text else column
        if not as_text:
            raise _NeedsText  # declared as text, wanted as JSON: plan again
        return column

    def flat_value(self, path: JsonPath, as_text: bool = False) -> str:
        """A path read from flat lines only (a LogEntry has it elsewhere).

        In text mode every line's paths are extracted in one call; a path only
        flat lines use costs that call a tenth more. When the files look like
        LogEntry exports, such a path is extracted on its own, inside the CASE
        branch that only flat lines reach. Either way the value is the same.
        """
        listed = self.text_paths if as_text else self.paths
        if self.mode != "text" or not self.deriving or not self.lazy_flat:
            return self.value(path, as_text)
        if path in listed:
            return self.value(path, as_text)  # extracted anyway: free
        function = "json_extract_string" if as_text else "json_extract"
        return f"try({function}(line, {sql_string(json_path(path))}))"

    def line_value(self, path: JsonPath, as_text: bool) -> str:
        function = "json_extract_string" if as_text else "json_extract"
        if not self.deriving:
            # Display and grouping values: read from matching lines only.
            return f"try({function}(line, {sql_string(json_path(path))}))"
        listed = self.text_paths if as_text else self.paths
        if path not in listed:
            listed.append(path)
        return f"{'__s' if as_text else '__w'}[{listed.index(path) + 1}]"

    def is_typed(self, path: JsonPath) -> bool:
        return self.strict or self.exact_types or path in self.typed_paths

    def textual(self, field: Field) -> bool:
        """A field whose every use ignores its JSON type is read as text."""
        return (
            not (self.strict or self.exact_types)
            and field.kind != "text"
            and not (set(field.flat) | {field.entry}) & self.typed_paths
        )

    def resolve(self, path: Path) -> Field:
        resolved = resolve(path, strict=self.strict, query=self.query.text)
        if self.mode == "struct" and resolved.kind == "text":
            raise _NeedsText
        return resolved

    # The statement ------------------------------------------------------------

    def build(
        self, since: datetime | None, until: datetime | None, limit: int | None
    ) -> Plan:
        conditions = []
        if self.query.filter is not None:
            if self.mode == "struct" and _needs_line(self.query.filter):
                raise _NeedsText
            conditions.append(self.compiler.compile(self.query.filter))
        for bound, op in ((since, ">="), (until, "<")):
            if bound is not None:
                ts = self.compiler.timestamp(self._field("timestamp"))
                conditions.append(f"coalesce({ts} {op} {instant_sql(bound)}, false)")
        where = self.bind_values(" AND ".join(conditions) or "true")
        self.deriving = False  # display values are computed for matches only

        body, shape, columns, chart = self.stages(where, limit)
        prefilter = prefilter_sql(self.query.filter) if self.mode == "text" else None
        sql = f"WITH __lines AS ({self.source()}) {body}"
        plan = Plan(sql, self.mode, shape, columns, prefilter, chart)
        if self.mode == "struct" and any(f.clean for f in self.files):
            lenient = self.struct_source(lenient=True)
            plan.fallback_sql = f"WITH __lines AS ({lenient}) {body}"
        return plan

    def bind_values(self, where: str) -> str:
        """Compute each filter value once per line, then test ``where``.

        DuckDB copies an expression into every place that names it, so the
        values ``where`` reads are computed in projections below the filter,
        one layer per step (``self.relation``): the extracted paths (``__w``,
        ``__s``), each field's value (``__d``), then each value's type and text
        (``__g``). A filter over a projection that builds a struct is not pushed
        into it, so each is computed once; this ran 25% faster than binding the
        same values as lambda parameters (``list_transform([…], lambda …)``).
        Projections keep the scan parallel and in file order.
        """
        layers = []
        text_test = "__t"
        if self.mode == "text" and (self.paths or self.text_paths or self.binds_text):
            if not (self.paths or self.text_paths):
                self.text_paths.append(("__mgops_probe",))  # [NULL] for any object
            # Whichever list is read is NULL exactly when the line is text.
            text_test = "(__w IS NULL)" if self.paths else "(__s IS NULL)"
            where = where.replace(_TEXT_TEST, text_test)
            lists = [("__v AS __w", self.paths), ("__vs AS __s", self.text_paths)]
            layers.append(", ".join(alias for alias, used in lists if used))
        if self.derived:
            derived = ", ".join(
                f"{a.removeprefix('__d.')} := {e}" for e, a in self.derived.items()
            )
            layers.append(f"struct_pack({derived}) AS __d")
        if self.facets:
            facets = ", ".join(
                f"{a.removeprefix('__g.')} := {e}" for a, e in self.facets.items()
            )
            layers.append(f"struct_pack({facets}) AS __g")
        for layer in layers:
            layer = layer.replace(_TEXT_TEST, text_test)
            self.relation = f"(SELECT *, {layer} FROM {self.relation})"
        return where

    def _field(self, name: str) -> Field:
        return self.resolve(Path((name,)))

    def source(self) -> str:
        if self.mode == "struct":
            return self.struct_source()
        reads = " UNION ALL ".join(read_lines_sql(f) for f in self.files) or (
            "SELECT NULL::VARCHAR AS line WHERE false"
        )
        prefilter = prefilter_sql(self.query.filter)
        where = f" WHERE {prefilter}" if prefilter else ""
        is_object = "(starts_with(line, '{') OR starts_with(ltrim(line), '{'))"

        def extract(function: str, paths: list[JsonPath], empty: str) -> str:
            if not paths:
                return empty
            listed = ", ".join(sql_string(json_path(p)) for p in paths)
            return f"CASE WHEN {is_object} THEN try({function}(line, [{listed}])) END"

        values = extract("json_extract", self.paths, "NULL::JSON[]")
        texts = extract("json_extract_string", self.text_paths, "NULL::VARCHAR[]")
        if self.paths or self.text_paths:
            text = "__v IS NULL" if self.paths else "__vs IS NULL"
        else:
            text = f"NOT ({is_object} AND coalesce(try(json_valid(line)), false))"
        return (
            f"SELECT line, __v, __vs, {text} AS __t FROM ("
            f"SELECT line, {values} AS __v, {texts} AS __vs FROM ({reads}){where})"
        )

    def struct_source(self, *, lenient: bool = False) -> str:
        """``read_json`` of the paths the query reads, typed as STRUCTs.

        A file whose sniffed lines were all JSON objects is read strictly
        unless ``lenient``: a line that does not fit then fails the statement
        and the engine runs ``Plan.fallback_sql``, which reads every file with
        ``ignore_errors`` (what a strict read that succeeds returns anyway).
        """
        tree: dict[str, object] = {}
        for path in self.paths:
            _insert(tree, path, "JSON" if self.is_typed(path) else "VARCHAR")
        for marker in ENTRY_MARKERS:
            # Presence is all that matters, and any JSON value reads as a
            # non-NULL VARCHAR (null as NULL), so no value makes the read fail.
            tree.setdefault(marker, "VARCHAR")
        columns = (
            "{"
            + ", ".join(
                f"{sql_string(k)}: {sql_string(_type(v))}" for k, v in tree.items()
            )
            + "}"
        )
        reads = " UNION ALL ".join(
            f"SELECT * FROM read_json({sql_string(f.path)}, "
            "format='newline_delimited', "
            f"columns={columns}, "
            f"{'ignore_errors=true, ' if lenient or not f.clean else ''}"
            f"maximum_object_size={STRUCT_MAX_LINE_BYTES}"
            f"{', compression=' + sql_string('gzip') if f.gzip else ''})"
            for f in self.files
        )
        if not reads:
            nulls = ", ".join(
                f"NULL::{_type(v)} AS {sql_ident(k)}" for k, v in tree.items()
            )
            reads = f"SELECT {nulls} WHERE false"
        return f"SELECT *, false AS __t FROM ({reads})"

    # Pipe stages ---------------------------------------------------------------

    def stages(self, where: str, limit: int | None) -> tuple[str, str, list[str], bool]:
        """The SELECT after the WITH: entries, or the table the stages make."""
        order: list[str] = []
        row_limit: int | None = None
        projection: list[tuple[str, str]] | None = None
        table: str | None = None
        columns: list[str] = []
        chart = False

        previous = ""
        for stage in self.query.stages:
            absorbed = previous == "groupBy" and stage.kind == "count"
            previous = stage.kind
            if absorbed:
                continue  # "groupBy f | count": the grouping already counts
            if table is None and stage.kind == "orderBy":
                expr = self.sort_value(stage.paths[0])
                direction = "DESC" if stage.descending else "ASC"
                order = [f"{e} {direction} NULLS LAST" for e in expr]
            elif table is None and stage.kind == "limit":
                row_limit = (
                    stage.number
                    if row_limit is None
                    else min(row_limit, stage.number or 0)
                )
            elif table is None and stage.kind == "fields":
                projection = [
                    (p.text(), self.compiler.text_value(self.resolve(p)))
                    for p in stage.paths
                ]
            elif table is None:
                entries = self.entries_sql(where, order, row_limit, projection)
                table, columns, chart = self.aggregate(stage, entries)
            else:
                table = self.after_table(stage, table, columns)

        if table is None:
            sql = self.entries_sql(where, order, row_limit or limit, projection, True)
            names = [n for n, _ in projection] if projection is not None else []
            return sql, "entries" if projection is None else "table", names, False
        if limit is not None:
            table = f"SELECT * FROM ({table}) LIMIT {int(limit)}"
        return table, "table", columns, chart

    def entries_sql(
        self,
        where: str,
        order: list[str],
        limit: int | None,
        projection: list[tuple[str, str]] | None,
        final: bool = False,
    ) -> str:
        if projection is not None:
            select = ", ".join(f"{e} AS {sql_ident(n)}" for n, e in projection)
        elif final:
            ts = self.compiler.text_value(self._field("timestamp"))
            sev = self.compiler.text_value(self._field("severity"))
            select = f"line, __t, {ts} AS timestamp, {sev} AS severity"
        else:
            select = "*"
        sql = f"SELECT {select} FROM {self.relation} WHERE {where}"
        if order:
            sql += " ORDER BY " + ", ".join(order)
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql

    def sort_value(self, path: Path) -> list[str]:
        resolved = self.resolve(path)
        if resolved.kind == "severity":
            return [self.compiler.severity(resolved)]
        if resolved.kind == "timestamp":
            return [self.compiler.timestamp(resolved)]
        text = self.compiler.text_value(resolved)
        return [f"TRY_CAST({text} AS DOUBLE)", f"lower({text})"]

    def group_value(self, path: Path) -> str:
        return self.compiler.text_value(self.resolve(path))

    def aggregate(self, stage: object, entries: str) -> tuple[str, list[str], bool]:
        from mgops.logs.ast import Agg, Stage

        assert isinstance(stage, Stage)
        src = f"({entries}) AS __m"
        if stage.kind == "count":
            return f"SELECT count(*) AS count FROM {src}", ["count"], False
        if stage.kind in ("groupBy", "top"):
            keys = [(p.text(), self.group_value(p)) for p in stage.paths]
            select = ", ".join(f"{e} AS {sql_ident(n)}" for n, e in keys)
            positions = ", ".join(str(i + 1) for i in range(len(keys)))
            sql = (
                f"SELECT {select}, count(*) AS count FROM {src} GROUP BY ALL "
                f"ORDER BY count DESC, {positions}"
            )
            if stage.kind == "top":
                sql += f" LIMIT {int(stage.number or 10)}"
            return sql, [n for n, _ in keys] + ["count"], False
        if stage.kind == "stats":
            keys = [(p.text(), self.group_value(p)) for p in stage.paths]
            aggs = [(a.name, self.agg_sql(a)) for a in stage.aggs]
            parts = [f"{e} AS {sql_ident(n)}" for n, e in keys + aggs]
            sql = f"SELECT {', '.join(parts)} FROM {src}"
            if keys:
                sql += " GROUP BY ALL ORDER BY " + ", ".join(
                    str(i + 1) for i in range(len(keys))
                )
            return sql, [n for n, _ in keys + aggs], False
        # timechart
        match = re.fullmatch(r"(\d+)([smhd])", stage.span)
        if not match or int(match.group(1)) == 0:
            raise QueryError(
                f"{stage.span!r} is not a time span; write 30s, 5m, 1h or 1d.",
                query=self.query.text,
                column=stage.column or None,
                code="bad_span",
            )
        interval = f"INTERVAL '{int(match.group(1))} {_SPAN_UNITS[match.group(2)]}'"
        ts = self.compiler.timestamp(self._field("timestamp"))
        aggs = [(a.name, self.agg_sql(a)) for a in stage.aggs or (Agg("count"),)]
        parts = [f"{e} AS {sql_ident(n)}" for n, e in aggs]
        sql = (
            f"SELECT time_bucket({interval}, {ts}) AS time, {', '.join(parts)} "
            f"FROM {src} WHERE {ts} IS NOT NULL GROUP BY 1 ORDER BY 1"
        )
        return sql, ["time"] + [n for n, _ in aggs], True

    def agg_sql(self, agg: object) -> str:
        from mgops.logs.ast import Agg

        assert isinstance(agg, Agg)
        if agg.func == "count" and agg.path is None:
            return "count(*)"
        if agg.path is None:
            raise QueryError(
                f"{agg.func}() needs a field, as in {agg.func}(latencyMs).",
                query=self.query.text,
                column=agg.column or None,
                code="missing_field",
            )
        text = self.group_value(agg.path)
        number = f"TRY_CAST({text} AS DOUBLE)"
        return {
            "count": f"count({text})",
            "count_distinct": f"count(DISTINCT {text})",
            "avg": f"avg({number})",
            "min": f"min({number})",
            "max": f"max({number})",
            "sum": f"sum({number})",
            "p50": f"quantile_cont({number}, 0.5)",
            "p95": f"quantile_cont({number}, 0.95)",
            "p99": f"quantile_cont({number}, 0.99)",
        }[agg.func]

    def after_table(self, stage: object, table: str, columns: list[str]) -> str:
        from mgops.logs.ast import Stage

        assert isinstance(stage, Stage)
        src = f"({table}) AS __s"
        if stage.kind == "limit":
            return f"SELECT * FROM {src} LIMIT {int(stage.number or 0)}"
        if stage.kind == "orderBy":
            name = self.column(stage.paths[0], columns)
            direction = "DESC" if stage.descending else "ASC"
            return (
                f"SELECT * FROM {src} ORDER BY {sql_ident(name)} {direction} NULLS LAST"
            )
        if stage.kind == "fields":
            names = [self.column(p, columns) for p in stage.paths]
            columns[:] = names
            return f"SELECT {', '.join(sql_ident(n) for n in names)} FROM {src}"
        raise QueryError(
            f"{stage.kind} cannot follow an aggregation; put it before the "
            "groupBy/stats/count stage.",
            query=self.query.text,
            column=stage.column or None,
            code="bad_stage_order",
        )

    def column(self, path: Path, columns: list[str]) -> str:
        name = path.text()
        for candidate in (name, *path.segments[-1:]):
            if candidate in columns:
                return candidate
        raise QueryError(
            f"{name!r} is not a column here; the columns are {', '.join(columns)}.",
            query=self.query.text,
            column=path.column or None,
            code="unknown_column",
        )


def _kind_sql(value: str) -> str:
    """A JSON value's type from its first character (DuckDB writes JSON
    minified), cheaper than ``json_type``; every number is ``DOUBLE``."""
    return (
        f"(CASE WHEN {value} IS NULL THEN NULL ELSE CASE left({value}::VARCHAR, 1) "
        "WHEN '\"' THEN 'VARCHAR' WHEN '{' THEN 'OBJECT' WHEN '[' THEN 'ARRAY' "
        "WHEN 't' THEN 'BOOLEAN' WHEN 'f' THEN 'BOOLEAN' WHEN 'n' THEN 'NULL' "
        "ELSE 'DOUBLE' END END)"
    )


def _text_sql(value: str) -> str:
    """A JSON value as text: strings unescaped, null as NULL, others as written."""
    first = f"left({value}::VARCHAR, 1)"
    return (
        f"(CASE {first} WHEN '\"' THEN {value}->>'$' WHEN 'n' THEN NULL "
        f"ELSE {value}::VARCHAR END)"
    )


def read_lines_sql(source: InputFile) -> str:
    """Each line of a file as one VARCHAR: a CSV read with no delimiter in use."""
    return (
        f"SELECT line FROM read_csv({sql_string(source.path)}, "
        "columns={'line': 'VARCHAR'}, delim=E'\\x01', quote='', escape='', "
        "header=false, auto_detect=false, strict_mode=false, "
        f"max_line_size={LONG_LINE_BYTES if source.long_lines else MAX_LINE_BYTES}, "
        "compression="
        f"{sql_string('gzip' if source.gzip else 'none')})"
    )


def _insert(tree: dict[str, object], path: JsonPath, leaf: str) -> None:
    node = tree
    for i, segment in enumerate(path):
        last = i == len(path) - 1
        if segment.lower() in {k.lower() for k in node} and segment not in node:
            raise _NeedsText  # DuckDB STRUCT names ignore case
        existing = node.get(segment)
        if last:
            if isinstance(existing, dict) and existing:
                raise _NeedsText  # both a leaf and a parent
            if isinstance(existing, str) and existing != leaf:
                raise _NeedsText  # one path read two ways
            node[segment] = leaf
            return
        if isinstance(existing, str):
            raise _NeedsText
        child = node.setdefault(segment, {})
        assert isinstance(child, dict)
        node = child


def _type(node: object) -> str:
    if isinstance(node, str):
        return node
    assert isinstance(node, dict)
    fields = dict(node) or {"__mgops_probe": "JSON"}
    return (
        "STRUCT("
        + ", ".join(f"{sql_ident(k)} {_type(v)}" for k, v in fields.items())
        + ")"
    )


def typed_paths(query: Query, strict: bool) -> set[JsonPath]:
    """Paths some comparison reads by JSON type; the rest may be read as text.

    Severity, timestamps, numeric literals (extension 7 compares numbers and
    numeric text alike) and equality or "has" on text give the same answer on
    a value's text; presence, NULL_VALUE, regular expressions and ordering
    against text need the JSON type.
    """
    found: set[JsonPath] = set()
    nodes: list[Node] = [query.filter] if query.filter is not None else []
    while nodes:
        node = nodes.pop()
        if isinstance(node, And | Or):
            nodes.extend(node.items)
        elif isinstance(node, Not):
            nodes.append(node.item)
        elif isinstance(node, Compare):
            try:
                field = resolve(node.path, strict=strict, query=query.text)
            except QueryError:
                continue  # the compiler reports it with its column
            if _needs_type(field, node):
                found.update({field.entry, *field.flat})
    return found


def _needs_type(field: Field, node: Compare) -> bool:
    if field.kind == "text" or node.op in (":*", "=~", "!~"):
        return True
    if not isinstance(node.value, Value):
        return True  # NULL_VALUE
    if field.kind == "severity":
        return False
    if field.kind == "timestamp":
        return node.op == ":"
    if NUMBER_LITERAL.fullmatch(node.value.text.strip()):
        return False
    return node.op not in ("=", "!=", ":")


def _needs_line(node: Node) -> bool:
    if isinstance(node, Global | Search):
        return True
    if isinstance(node, And | Or):
        return any(_needs_line(i) for i in node.items)
    if isinstance(node, Not):
        return _needs_line(node.item)
    return False


# Literal prefilter -------------------------------------------------------------


def prefilter_sql(node: Node | None) -> str | None:
    """A test on the raw line that every matching line passes, or None.

    A line whose leaf contains the literal contains it in its raw text, unless a
    JSON escape spells it differently; lines with any backslash therefore always
    pass, and the exact test still runs on the decoded leaf afterwards.
    """
    literals = _required(node) if node is not None else None
    if not literals:
        return None
    return f"(({literals}) OR contains(line, '\\'))"


def _required(node: Node) -> str | None:
    if isinstance(node, And):
        parts = [p for p in (_required(i) for i in node.items) if p]
        return " AND ".join(parts) if parts else None
    if isinstance(node, Or):
        alternatives = [_required(i) for i in node.items]
        if all(alternatives):
            return "(" + " OR ".join(p for p in alternatives if p) + ")"
        return None
    if isinstance(node, Global):
        # Walking every leaf costs far more than a raw test, so even a short
        # word is worth testing on the raw line first.
        return _literal_test(node.value.text, min_length=1)
    if isinstance(node, Search):
        tests = [_literal_test(t.split(" ")[0]) for t in search_tokens(node.text)]
        return " AND ".join(t for t in tests if t) or None
    if isinstance(node, Compare) and node.op in ("=", ":"):
        value = node.value
        if value is None or not hasattr(value, "quoted"):
            return None
        first = node.path.segments[0].lower()
        if first in ("severity", "timestamp", "receivetimestamp"):
            return None
        return _literal_test(value.text)  # type: ignore[union-attr]
    return None


_NUMERIC = re.compile(r"[+-]?[\d.eE+-]+|(?i:nan|[+-]?infinity|true|false)")


def _literal_test(text: str, min_length: int = 3) -> str | None:
    """Case-insensitive raw-line test for one literal, cheapest form first."""
    literal = text.lower()
    if (
        len(literal) < min_length
        or not literal.isascii()
        or not literal.isprintable()
        or _NUMERIC.fullmatch(literal)
    ):
        return None
    runs = re.findall(r"[^a-z]+", literal)
    longest = max(runs, key=len) if runs else ""
    pattern = sql_string("(?i)" + re.escape(literal))
    if longest == literal:
        return f"contains(line, {sql_string(literal)})"
    if len(longest) >= 3:
        return (
            f"(contains(line, {sql_string(longest)}) AND "
            f"regexp_matches(line, {pattern}))"
        )
    return f"regexp_matches(line, {pattern})"
