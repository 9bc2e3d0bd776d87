"""Text → ``Query``: the lark parse, the tree → AST step, and readable errors.

Every failure is a ``QueryError`` with a stable ``code`` (listed in
``docs/logs.md``), the 1-based ``column`` and a sentence saying what was
expected there. Nothing else escapes ``parse_query``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import cast

import lark
from lark import Token, Transformer, v_args

from mgops.errors import QueryError
from mgops.logs.ast import (
    Agg,
    And,
    Compare,
    Global,
    Node,
    Not,
    NullValue,
    Or,
    Path,
    Query,
    Search,
    Stage,
    Value,
)
from mgops.logs.parser_cache import default_cache_dir, load_parser

MAX_QUERY_CHARS = 20_000  # Cloud Logging's own cap, comments included

_EXPECTED = {
    "WORD": "a field name or a value",
    "STRING": "a quoted string",
    "NUMBER": "a number",
    "INT": "a whole number",
    "OP": "an operator (= != < <= > >= =~ !~)",
    "HAS": "':'",
    "STAR": "'*'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "PIPE": "'|'",
    "AND": "AND",
    "OR": "OR",
    "NOT": "NOT",
    "MINUS": "'-'",
    "NULL_VALUE": "NULL_VALUE",
    "SPAN": "a time span such as 30s, 5m, 1h or 1d",
    "AGG_FUNC": "an aggregate such as count(), avg(f) or p95(f)",
    "DIRECTION": "asc or desc",
    "FUNC_SEARCH": "SEARCH(...)",
    "$END": "the end of the query",
}
_STAGES = (
    "groupBy",
    "count",
    "orderBy",
    "limit",
    "fields",
    "stats",
    "top",
    "timechart",
)
# Documented Cloud Logging functions mgops rejects by name.
_OTHER_FUNCTIONS = ("log_id", "source", "sample", "ip_in_net", "cast", "regexp_extract")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[0-7]{1,3}|.)", re.S)


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    return load_parser(default_cache_dir())


def parse_query(text: str) -> Query:
    """Parse a whole query (filter and stages) or raise ``QueryError``."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"The query is {len(text)} characters long; the limit is "
            f"{MAX_QUERY_CHARS}.",
            query=text[:200],
            code="query_too_long",
        )
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    try:
        parsed = _ToAst(text).transform(tree)
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, QueryError):
            raise exc.orig_exc from None
        raise
    filter_node, stages = cast(tuple[Node | None, list[Stage]], parsed)
    return Query(text=text, filter=filter_node, stages=tuple(stages))


def _syntax_error(text: str, exc: lark.exceptions.UnexpectedInput) -> QueryError:
    position = getattr(exc, "pos_in_stream", None)
    token = getattr(exc, "token", None)
    if isinstance(token, Token) and token.type == "$END":
        position = len(text)
    elif isinstance(token, Token) and token.start_pos is not None:
        position = token.start_pos
    if position is None:
        position = len(text)
    column = position + 1

    function = re.search(r"([A-Za-z_]+)\s*$", text[:position])
    if text[position : position + 1] == "(" and function:
        name = function.group(1)
        supported = "SEARCH()" if name not in _OTHER_FUNCTIONS else "only SEARCH()"
        return QueryError(
            f"The function {name}() is not supported; mgops supports {supported}.",
            query=text,
            column=function.start(1) + 1,
            code="unknown_function",
        )
    if text[position:].startswith('"'):
        return QueryError(
            "This quoted string is never closed; add the closing '\"'.",
            query=text,
            column=column,
            code="unterminated_string",
        )
    after_pipe = re.match(r"\s*([A-Za-z_]+)", text[position:])
    if text[:position].rstrip().endswith("|") and after_pipe:
        name = after_pipe.group(1)
        if name not in _STAGES:
            return QueryError(
                f"Unknown pipe stage {name!r}; stages are {', '.join(_STAGES)}.",
                query=text,
                column=column,
                code="unknown_stage",
            )
    expected = sorted(getattr(exc, "expected", None) or [])
    wanted = ", ".join(dict.fromkeys(_EXPECTED.get(e, e.lower()) for e in expected))
    found = (
        "the end of the query"
        if position >= len(text)
        else repr(
            text[position : position + 12].split()[0] if text[position:].split() else ""
        )
    )
    if position >= len(text):
        code, message = "unexpected_end", "The query ends too early"
    else:
        code, message = "syntax_error", f"Unexpected {found}"
    if wanted:
        message += f"; expected {wanted}"
    return QueryError(message + ".", query=text, column=column, code=code)


def unquote(token: str) -> str:
    """The text of a double-quoted string with its escapes resolved."""
    return _ESCAPE_RE.sub(_unescape, token[1:-1])


def _unescape(match: re.Match[str]) -> str:
    body = match.group(1)
    if body[0] == "u" and len(body) == 5:
        return chr(int(body[1:], 16))
    if body[0] == "x" and len(body) == 3:
        return chr(int(body[1:], 16))
    if body[0] in "01234567":
        return chr(int(body, 8))
    return _ESCAPES.get(body, body)


def _segment(token: Token) -> str:
    return unquote(token) if token.type == "STRING" else str(token).replace("\\", "")


def _col(token: Token) -> int:
    return (token.start_pos or 0) + 1


@v_args(inline=True)
class _ToAst(Transformer[Token, object]):
    """Turn lark's tree into ``mgops.logs.ast`` nodes, flattening AND/OR."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def query(self, *items: object) -> tuple[Node | None, list[Stage]]:
        stages = [i for i in items if isinstance(i, Stage)]
        filters = [i for i in items if not isinstance(i, Stage)]
        return (filters[0] if filters else None), stages  # type: ignore[return-value]

    def and_(self, *items: object) -> Node:
        return _flat(And, _nodes(items))

    seq_ = and_

    def or_(self, *items: object) -> Node:
        return _flat(Or, _nodes(items))

    def not_(self, _keyword: Token, item: Node) -> Node:
        return Not(item)

    def value(self, token: Token) -> Value:
        if token.type == "STRING":
            return Value(unquote(token), quoted=True, column=_col(token))
        return Value(str(token).replace("\\", ""), column=_col(token))

    def global_(self, value: Value) -> Node:
        end = value.column - 1 + len(value.text)
        if not value.quoted and self.text[end : end + 1] == "(":
            raise QueryError(
                f"The function {value.text}() is not supported; mgops supports "
                "SEARCH() only.",
                query=self.text,
                column=value.column,
                code="unknown_function",
            )
        return Global(value, column=value.column)

    def path(self, *segments: Token) -> Path:
        return Path(tuple(_segment(s) for s in segments), column=_col(segments[0]))

    def comparison(self, path: Path, op: Token, rhs: object) -> Node:
        return _distribute(path, str(op), rhs)

    def exists(self, path: Path, _has: Token, _star: Token) -> Node:
        return Compare(path, ":*", None, column=path.column)

    def null_value(self, token: Token) -> NullValue:
        return NullValue(column=_col(token))

    def rhs_value(self, value: Value) -> Value:
        return value

    def rhs_group(self, inner: object) -> object:
        return ("group", inner)

    def search(self, keyword: Token, path: Path | None, text: Token) -> Node:
        return Search(unquote(text), path=path, column=_col(keyword))

    # Pipe stages -------------------------------------------------------------

    def stage(self, pipe: Token, body: Stage) -> Stage:
        return Stage(
            body.kind,
            paths=body.paths,
            aggs=body.aggs,
            number=body.number,
            descending=body.descending,
            span=body.span,
            column=_col(pipe),
        )

    def path_list(self, *paths: Path) -> tuple[Path, ...]:
        return paths

    def agg_list(self, *aggs: Agg) -> tuple[Agg, ...]:
        return aggs

    def agg(self, func: Token, path: Path | None) -> Agg:
        return Agg(str(func), path, column=_col(func))

    def group_by(self, paths: tuple[Path, ...]) -> Stage:
        return Stage("groupBy", paths=paths)

    def count(self) -> Stage:
        return Stage("count")

    def order_by(self, path: Path, direction: Token | None) -> Stage:
        descending = direction is not None and str(direction).lower() == "desc"
        return Stage("orderBy", paths=(path,), descending=descending)

    def limit(self, number: Token) -> Stage:
        return Stage("limit", number=int(number))

    def fields(self, paths: tuple[Path, ...]) -> Stage:
        return Stage("fields", paths=paths)

    def stats(self, aggs: tuple[Agg, ...], by: tuple[Path, ...] | None) -> Stage:
        return Stage("stats", aggs=aggs, paths=by or ())

    def top(self, number: Token, path: Path) -> Stage:
        return Stage("top", paths=(path,), number=int(number))

    def timechart(self, span: Token, aggs: tuple[Agg, ...] | None) -> Stage:
        return Stage("timechart", span=str(span), aggs=aggs or (Agg("count"),))


def _nodes(items: tuple[object, ...]) -> list[Node]:
    """The operands of AND/OR (filters, or values inside ``f = (…)``)."""
    return [cast(Node, i) for i in items if not isinstance(i, Token)]


def _flat(kind: type[And] | type[Or], nodes: list[Node]) -> Node:
    if len(nodes) == 1:
        return nodes[0]
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.items if isinstance(node, kind) else (node,))
    return kind(tuple(flat))


def _distribute(path: Path, op: str, rhs: object) -> Node:
    """``f = ("a" OR "b")`` becomes ``f="a" OR f="b"``; NOT and AND likewise."""
    if isinstance(rhs, tuple) and rhs[0] == "group":
        return _distribute(path, op, rhs[1])
    if isinstance(rhs, And):
        return And(tuple(_distribute(path, op, i) for i in rhs.items))
    if isinstance(rhs, Or):
        return Or(tuple(_distribute(path, op, i) for i in rhs.items))
    if isinstance(rhs, Not):
        return Not(_distribute(path, op, rhs.item))
    assert isinstance(rhs, Value | NullValue)
    return Compare(path, op, rhs, column=path.column)
