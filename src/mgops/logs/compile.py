"""Filter AST → DuckDB SQL predicates over one line's values.

The compiler never pastes user text into SQL raw: every value and JSON path
goes through ``sql_string`` (single quotes doubled, NUL refused), every column
name through ``sql_ident``.

The rows it reads have these columns (see ``mgops.logs.plan``):

* ``line``  — the raw line (text mode only);
* ``is_text`` — an expression true when the line is text, not a JSON object
  (the column ``__t``, or inside a filter the bound ``(__w IS NULL)``);
* ``entry_test`` — an expression true when the JSON line is a LogEntry (false:
  a flat payload). It is evaluated only for lines where the field's LogEntry
  path is absent: a present ``jsonPayload.x`` already proves a LogEntry, and
  every other LogEntry path reads the same key a flat line would;
* one JSON value per distinct path the query reads, produced by ``value(path)``.

Every leaf predicate is made two-valued (``coalesce(…, false)``) before NOT or
OR sees it, so SQL NULL never leaks through NOT: ``f != x`` is false when f is
missing, while ``NOT f = x`` is true.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from mgops.errors import QueryError
from mgops.logs.ast import And, Compare, Global, Node, Not, NullValue, Or, Search, Value
from mgops.logs.fields import Field, JsonPath, resolve

SEVERITIES = {
    "DEFAULT": 0,
    "DEBUG": 100,
    "INFO": 200,
    "NOTICE": 300,
    "WARNING": 400,
    "ERROR": 500,
    "CRITICAL": 600,
    "ALERT": 700,
    "EMERGENCY": 800,
}
# mgops extension 4: spellings applications print, mapped to Cloud Logging names.
SEVERITY_ALIASES = {
    "WARN": "WARNING",
    "ERR": "ERROR",
    "FATAL": "CRITICAL",
    "PANIC": "CRITICAL",
    "TRACE": "DEBUG",
    "INFORMATION": "INFO",
    "CRIT": "CRITICAL",
    "EMERG": "EMERGENCY",
}
# pino/bunyan numeric levels (10 trace … 60 fatal), also extension 4.
NUMERIC_LEVELS = {10: 100, 20: 100, 30: 200, 40: 400, 50: 500, 60: 600}
SCALAR_TYPES = "('VARCHAR','BIGINT','UBIGINT','DOUBLE','BOOLEAN')"
NUMERIC_TYPES = "('BIGINT','UBIGINT','DOUBLE')"
# SEARCH() token delimiters (BigQuery LOG_ANALYZER style): whitespace and punctuation.
SEARCH_DELIMITERS = r"""[\s.\-_/:=@,;'"()\[\]{}<>!?&|+*#%^~`$\\]+"""
NUMBER_LITERAL = _NUMBER = re.compile(
    r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|infinity)", re.I
)
_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
# A column, a bound lambda field (``__d.f1``) or a literal: cheap to repeat.
_SIMPLE = re.compile(r"[\w.]+|'[A-Z]+'")


def sql_string(text: str) -> str:
    """A SQL string literal; NUL cannot travel inside one, so it is refused."""
    if "\x00" in text:
        raise QueryError("A query value cannot contain a NUL character.", code="nul")
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    if "\x00" in name:
        raise QueryError("A field name cannot contain a NUL character.", code="nul")
    return '"' + name.replace('"', '""') + '"'


def severity_number(name: str, *, strict: bool) -> int | None:
    key = name.strip().upper()
    if not strict:
        key = SEVERITY_ALIASES.get(key, key)
    return SEVERITIES.get(key)


def severity_names(*, strict: bool) -> dict[str, int]:
    names = dict(SEVERITIES)
    if not strict:
        names.update({k: SEVERITIES[v] for k, v in SEVERITY_ALIASES.items()})
    return names


def bind_once(
    name: str, values: dict[str, str], body: Callable[[dict[str, str]], str]
) -> str:
    """``body`` over ``values``, each computed once however often body uses it.

    DuckDB copies an expression into every place that names it (a simple
    ``CASE x WHEN …`` repeats x per branch), so nesting such forms over a long
    expression makes planning grow exponentially: 120 ms for a severity shown
    in entry output. A one-element ``list_transform`` binds them as a lambda
    parameter instead. Simple values are pasted as they are.
    """
    if all(_SIMPLE.fullmatch(v) for v in values.values()):
        return body(values)
    fields = ", ".join(f"{k} := {v}" for k, v in values.items())
    names = {k: f"{name}.{k}" for k in values}
    return f"list_transform([struct_pack({fields})], lambda {name}: {body(names)})[1]"


def severity_number_sql(kind: str, text: str, *, strict: bool) -> str:
    """SQL for the severity number of one JSON value (name or number)."""
    names = severity_names(strict=strict)
    cases = " ".join(f"WHEN {sql_string(k)} THEN {n}" for k, n in names.items())
    fallback = "0" if strict else f"coalesce({_numeric_level(text, strict)}, 0)"
    by_name = f"CASE upper(trim({text})) {cases} ELSE {fallback} END"
    return (
        f"CASE WHEN {kind} = 'VARCHAR' THEN {by_name} "
        f"WHEN {kind} IN {NUMERIC_TYPES} THEN {_numeric_level(text, strict)} ELSE 0 END"
    )


def _numeric_level(text: str, strict: bool) -> str:
    number = f"TRY_CAST({text} AS INTEGER)"
    if strict:
        return number
    levels = " ".join(f"WHEN {k} THEN {v}" for k, v in NUMERIC_LEVELS.items())
    return f"CASE {number} {levels} ELSE {number} END"


def severity_test_sql(
    kind: str, text: str, op: str, number: int, *, strict: bool
) -> str:
    """``severity OP number`` without mapping every name: set membership.

    Exports write canonical upper-case names, so the exact test settles most
    lines; only other spellings pay for ``upper(trim())``.
    """
    op = "=" if op == ":" else op  # "has" on an enum is equality
    names = severity_names(strict=strict)
    chosen = [n for n, v in names.items() if _holds(v, op, number)]
    unknown = "true" if _holds(0, op, number) else "false"
    every = ", ".join(sql_string(n) for n in names)
    wanted = ", ".join(sql_string(n) for n in chosen) or "NULL"
    upper = f"upper(trim({text}))"
    by_number = f"({_numeric_level(text, strict)} {_OPS[op]} {number})"
    # mgops extension 4: a number written as text ("40") is a numeric level.
    other = unknown if strict else f"coalesce({by_number}, {unknown})"
    by_name = (
        f"CASE WHEN {text} IN ({wanted}) THEN true WHEN {text} IN ({every}) THEN false "
        f"WHEN {upper} IN ({wanted}) THEN true WHEN {upper} IN ({every}) THEN false "
        f"ELSE {other} END"
    )
    return (
        f"(CASE WHEN {kind} = 'VARCHAR' THEN {by_name} "
        f"WHEN {kind} IN {NUMERIC_TYPES} THEN coalesce({by_number}, {unknown}) "
        f"ELSE {unknown} END)"
    )


def _holds(value: int, op: str, number: int) -> bool:
    return {
        "=": value == number,
        ":": value == number,
        "!=": value != number,
        "<": value < number,
        "<=": value <= number,
        ">": value > number,
        ">=": value >= number,
    }[op]


def timestamp_sql(kind: str, text: str, *, strict: bool = False) -> str:
    """SQL for the instant of one value: RFC 3339 text or epoch number."""
    number = f"TRY_CAST({text} AS DOUBLE)"
    seconds = f"CASE WHEN {number} > 1e11 THEN {number} / 1000 ELSE {number} END"
    epoch = f"to_timestamp({seconds})"
    # mgops extension 5: epoch numbers, also when written as text.
    as_text = f"TRY_CAST({text} AS TIMESTAMPTZ)"
    if not strict:
        as_text = f"coalesce({as_text}, {epoch})"
    return (
        f"CASE WHEN {kind} = 'VARCHAR' THEN {as_text} "
        f"WHEN {kind} IN {NUMERIC_TYPES} THEN {epoch} END"
    )


def text_kind_sql(value: str) -> str:
    """The type of a value read as text: an array or object is recognised by
    parsing it; anything else (string, number, boolean) counts as text."""
    container = f"(starts_with({value}, '[') OR starts_with({value}, '{{'))"
    return (
        f"(CASE WHEN {value} IS NULL THEN NULL WHEN {container} AND "
        f"coalesce(try(json_valid({value})), false) THEN CASE WHEN "
        f"starts_with({value}, '[') THEN 'ARRAY' ELSE 'OBJECT' END ELSE 'VARCHAR' END)"
    )


def parse_instant(text: str) -> datetime | None:
    """An RFC 3339 instant or a bare date, as aware UTC; None when it is neither."""
    candidate = text.strip()
    if not re.match(r"\d{4}-\d\d-\d\d", candidate):
        return None
    candidate = re.sub(r"(\.\d{6})\d+", r"\1", candidate)
    try:
        moment = datetime.fromisoformat(candidate.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def instant_sql(moment: datetime) -> str:
    return f"TIMESTAMPTZ {sql_string(moment.strftime('%Y-%m-%d %H:%M:%S.%f+00'))}"


class FilterCompiler:
    """Compile filter nodes; ``value`` maps a resolved field's paths to SQL."""

    def __init__(
        self,
        query: str,
        *,
        strict: bool,
        value: Callable[[JsonPath, bool], str],
        check_regex: Callable[[str], str | None],
        derive: Callable[[str], str] = lambda expr: expr,
        facet: Callable[[str, str], str | None] = lambda value, facet: None,
        entry_test: str = "false",
        is_text: Callable[[], str] = lambda: "__t",
        textual: Callable[[Field], bool] = lambda field: False,
        flat_value: Callable[[JsonPath, bool], str] | None = None,
    ) -> None:
        self.query = query
        self.strict = strict
        self.value = value
        # Where a flat line's path is read; by default like any other value.
        self.flat_value = flat_value or value
        self.check_regex = check_regex
        self.derive = derive
        self.facet = facet
        self.entry_test = entry_test
        self.text_test = is_text
        self.textual = textual
        self.text_values: set[str] = set()

    def kind(self, value: str) -> str:
        """The JSON type of a value, computed once per line when it can be."""
        if value in self.text_values:
            return self.facet(value, "t") or text_kind_sql(value)
        return self.facet(value, "k") or f"json_type({value})"

    def text(self, value: str) -> str:
        """The text of a value (strings unquoted), once per line if it can be."""
        if value in self.text_values:
            return value
        return self.facet(value, "s") or f"({value}->>'$')"

    # Field access -----------------------------------------------------------

    def field_value(self, field: Field) -> str:
        """The field's value for this line's shape (NULL when absent).

        A JSON value, or, for a field only used in ways its JSON type cannot
        change (``textual``), its text: cheaper to read.
        """
        as_text = self.textual(field)
        value = self._field_value(field, as_text)
        if as_text:
            self.text_values.add(value)
        return value

    def _field_value(self, field: Field, as_text: bool) -> str:
        entry = self.value(field.entry, as_text) if field.entry else "NULL"
        if self.strict:
            return self.derive(
                f"(CASE WHEN {self.text_test()} THEN NULL ELSE {entry} END)"
            )
        flat = [self.flat_value(p, as_text) for p in field.flat]
        flat_sql = "NULL" if not flat else flat[0]
        if len(flat) > 1:
            flat_sql = f"coalesce({', '.join(flat)})"
        return self.derive(
            f"(CASE WHEN {self.text_test()} THEN NULL WHEN {entry} IS NOT NULL "
            f"THEN {entry} WHEN {self.entry_test} THEN NULL ELSE {flat_sql} END)"
        )

    def scalar_kind(self, value: str) -> str:
        """The type where arrays and objects need no telling apart: severity and
        time read an array's or object's text as an unknown name or a
        non-time, the same answer their JSON type gives."""
        if value in self.text_values:
            return "'VARCHAR'"
        return self.kind(value)

    def severity(self, field: Field) -> str:
        value = self.field_value(field)
        kind, text = self.scalar_kind(value), self.text(value)
        return bind_once(
            "__sv",
            {"k": kind, "t": text},
            lambda v: (
                "coalesce("
                + severity_number_sql(v["k"], v["t"], strict=self.strict)
                + ", 0)"
            ),
        )

    def timestamp(self, field: Field) -> str:
        value = self.field_value(field)
        kind, text = self.scalar_kind(value), self.text(value)
        return bind_once(
            "__tv",
            {"k": kind, "t": text},
            lambda v: timestamp_sql(v["k"], v["t"], strict=self.strict),
        )

    def text_value(self, field: Field) -> str:
        """A field as display text (severity as its name, time as RFC 3339)."""
        if field.kind == "severity":
            names = " ".join(
                f"WHEN {n} THEN {sql_string(k)}" for k, n in SEVERITIES.items()
            )
            return bind_once(
                "__sn",
                {"n": self.severity(field)},
                lambda v: f"(CASE {v['n']} {names} ELSE 'DEFAULT' END)",
            )
        if field.kind == "timestamp":
            return f"strftime({self.timestamp(field)}, '%Y-%m-%dT%H:%M:%S.%fZ')"
        if field.kind == "text":
            text = self.text(self.field_value(field))
            return f"(CASE WHEN {self.text_test()} THEN line ELSE {text} END)"
        return self.text(self.field_value(field))

    # Filter -----------------------------------------------------------------

    def compile(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.compile(i) for i in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.compile(i) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.compile(node.item)})"
        if isinstance(node, Global):
            return self.global_restriction(node.value.text)
        if isinstance(node, Search):
            return self.search(node)
        return f"coalesce({self.compare(node)}, false)"

    def compare(self, node: Compare) -> str:
        field = resolve(node.path, strict=self.strict, query=self.query)
        if node.op == ":*":
            if field.kind == "text":
                present = f"{self.field_value(field)} IS NOT NULL"
                return f"({self.text_test()} OR {present})"
            return f"({self.field_value(field)} IS NOT NULL)"
        if isinstance(node.value, NullValue):
            test = "= 'NULL'" if node.op in ("=", ":") else "<> 'NULL'"
            return f"({self.kind(self.field_value(field))} {test})"
        assert node.value is not None
        if field.kind == "severity":
            return self.compare_severity(field, node)
        if field.kind == "timestamp":
            return self.compare_timestamp(field, node)
        if field.kind == "text":
            text = (
                f"(CASE WHEN {self.text_test()} THEN to_json(line) "
                f"ELSE {self.field_value(field)} END)"
            )
            return self.any_element(text, node)
        return self.any_element(self.field_value(field), node)

    def any_element(self, value: str, node: Compare) -> str:
        """Arrays compare element by element, ORed (reference section 4)."""
        scalar = self.scalar_predicate("__x", node)
        elements = (
            f"coalesce(list_bool_or(list_transform(try(json_extract({value}, '$[*]')), "
            f"lambda __x: coalesce({scalar}, false))), false)"
        )
        number = self.numeric_literal(node)
        if value in self.text_values and number is not None and node.op in _OPS:
            # Extension 7 on a value read as text: a number (or numeric text)
            # compares at once; only text that opens a bracket may be an array.
            cast = f"TRY_CAST({value} AS DOUBLE) {_OPS[node.op]} {number}"
            return f"coalesce({cast}, starts_with({value}, '[') AND {elements})"
        direct = self.scalar_predicate(value, node)
        is_array = f"{self.kind(value)} = 'ARRAY'"
        return f"(CASE WHEN {is_array} THEN {elements} ELSE {direct} END)"

    def numeric_literal(self, node: Compare) -> str | None:
        """The SQL double of a numeric literal under extension 7, else None."""
        if self.strict or not isinstance(node.value, Value):
            return None
        if not _NUMBER.fullmatch(node.value.text.strip()):
            return None
        return _double_sql(float(node.value.text))

    def scalar_predicate(self, x: str, node: Compare) -> str:
        assert node.value is not None
        assert not isinstance(node.value, NullValue)
        literal = node.value.text
        text = self.text(x)
        kind = self.kind(x)
        if node.op in ("=~", "!~"):
            pattern = sql_string(self.regex(literal, node.value.column))
            match = f"regexp_matches({text}, {pattern})"
            negate = "NOT " if node.op == "!~" else ""
            return f"({kind} = 'VARCHAR' AND {negate}{match})"
        if node.op == ":":
            needle = sql_string(literal.lower())
            return f"({kind} IN {SCALAR_TYPES} AND contains(lower({text}), {needle}))"

        op = _OPS[node.op]
        if _NUMBER.fullmatch(literal.strip()):
            number = _double_sql(float(literal))
            if not self.strict:
                # mgops extension 7: numeric text compares as a number.
                cast = f"TRY_CAST({text} AS DOUBLE)"
                types = f"('VARCHAR',{NUMERIC_TYPES[1:-1]})"
                return f"({kind} IN {types} AND {cast} {op} {number})"
            return (
                f"(CASE WHEN {kind} IN {NUMERIC_TYPES} THEN CAST({text} AS DOUBLE) "
                f"{op} {number} WHEN {kind} = 'VARCHAR' THEN lower({text}) {op} "
                f"{sql_string(literal.lower())} ELSE false END)"
            )
        types = SCALAR_TYPES if op in ("=", "<>") else "('VARCHAR')"
        return (
            f"({kind} IN {types} AND lower({text}) {op} {sql_string(literal.lower())})"
        )

    def compare_severity(self, field: Field, node: Compare) -> str:
        assert node.value is not None
        assert not isinstance(node.value, NullValue)
        literal = node.value.text
        if node.op in ("=~", "!~"):
            negate = "NOT " if node.op == "!~" else ""
            pattern = sql_string(self.regex(literal, node.value.column))
            return f"({negate}regexp_matches({self.text_value(field)}, {pattern}))"
        number = severity_number(literal, strict=self.strict)
        if number is None and _NUMBER.fullmatch(literal.strip()):
            try:
                number = int(float(literal))
            except (ValueError, OverflowError):
                number = None
        if number is None:
            raise QueryError(
                f"{literal!r} is not a severity; use one of {', '.join(SEVERITIES)}.",
                query=self.query,
                column=node.value.column or None,
                code="bad_severity",
            )
        value = self.field_value(field)
        return severity_test_sql(
            self.scalar_kind(value),
            self.text(value),
            node.op,
            number,
            strict=self.strict,
        )

    def compare_timestamp(self, field: Field, node: Compare) -> str:
        assert node.value is not None
        assert not isinstance(node.value, NullValue)
        literal = node.value.text
        if node.op in ("=~", "!~", ":"):
            return self.scalar_predicate(f"({self.field_value(field)})", node)
        moment = parse_instant(literal)
        if moment is None:
            raise QueryError(
                f"{literal!r} is not a timestamp; write RFC 3339 such as "
                '"2024-12-06T08:00:00Z", or a date such as "2024-12-06".',
                query=self.query,
                column=node.value.column or None,
                code="bad_timestamp",
            )
        ts = self.timestamp(field)
        # A comparison with an instant needs an instant: a timestamp written
        # without an offset matches no timestamp filter (it is still shown,
        # sorted and windowed as UTC, with a note). Case ts_offsets.
        naive = f"NOT regexp_matches({self.text(self.field_value(field))}, {_OFFSET})"
        ts = f"(CASE WHEN {naive} THEN NULL ELSE {ts} END)"
        return f"({ts} {_OPS[node.op]} {instant_sql(moment)})"

    def regex(self, pattern: str, column: int) -> str:
        problem = self.check_regex(pattern)
        if problem:
            raise QueryError(
                f"The regular expression {pattern!r} is not valid RE2: {problem}.",
                query=self.query,
                column=column or None,
                code="bad_regex",
            )
        return pattern

    # Whole-entry searches -----------------------------------------------------

    def leaves(self, body: Callable[[str], str]) -> str:
        """``body(text)`` is true for some leaf of the line (or the text line)."""
        return (
            f"(CASE WHEN {self.text_test()} THEN {body('line')} ELSE coalesce("
            f"list_bool_or(list_transform(json_extract(line, '$..*'), lambda __l: "
            f"json_type(__l) NOT IN ('OBJECT','ARRAY','NULL') AND "
            f"{body(_LEAF_TEXT)})), false) END)"
        )

    def global_restriction(self, word: str) -> str:
        needle = sql_string(word.lower())
        return self.leaves(lambda x: f"contains(lower({x}), {needle})")

    def search(self, node: Search) -> str:
        tokens = search_tokens(node.text)
        if not tokens:
            return "true"
        delimiters = sql_string(SEARCH_DELIMITERS)

        def has_token(token: str) -> Callable[[str], str]:
            return lambda x: (
                f"contains(' ' || array_to_string(string_split_regex(lower({x}), "
                f"{delimiters}), ' ') || ' ', {sql_string(' ' + token + ' ')})"
            )

        if node.path is None:
            return "(" + " AND ".join(self.leaves(has_token(t)) for t in tokens) + ")"
        field = resolve(node.path, strict=self.strict, query=self.query)
        text = self.text_value(field)
        body = " AND ".join(has_token(t)(text) for t in tokens)
        return f"coalesce({body}, false)"


_LEAF_TEXT = "(__l->>'$')"
_OFFSET = sql_string(r"([Zz]|[+-]\d\d:?\d\d)$")


def search_tokens(text: str) -> list[str]:
    """SEARCH() tokens: backticked phrases stay whole (as spaced tokens)."""
    tokens: list[str] = []
    for phrase, word in re.findall(r"`([^`]*)`|([^`]+)", text):
        parts = [p for p in re.split(SEARCH_DELIMITERS, (phrase or word).lower()) if p]
        if phrase:
            tokens.append(" ".join(parts))
        else:
            tokens.extend(parts)
    return [t for t in tokens if t]


def _double_sql(number: float) -> str:
    if math.isnan(number):
        return "'NaN'::DOUBLE"
    if math.isinf(number):
        return "'Infinity'::DOUBLE" if number > 0 else "'-Infinity'::DOUBLE"
    return repr(number) + "::DOUBLE"
