"""The parser: every operator, the precedence table, and its error messages."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgops.errors import QueryError
from mgops.logs.ast import And, Compare, Global, Not, NullValue, Or, Search
from mgops.logs.parse import parse_query


def words(node: object) -> object:
    """A compact view of a filter tree: globals by their text."""
    if isinstance(node, Global):
        return node.value.text
    if isinstance(node, And):
        return ("AND", *(words(i) for i in node.items))
    if isinstance(node, Or):
        return ("OR", *(words(i) for i in node.items))
    if isinstance(node, Not):
        return ("NOT", words(node.item))
    if isinstance(node, Compare):
        value = (
            node.value.text
            if node.value and not isinstance(node.value, NullValue)
            else node.value
        )
        return (".".join(node.path.segments), node.op, value)
    return node


class TestOperators:
    @pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">=", ":", "=~", "!~"])
    def test_each_comparison_operator(self, op: str) -> None:
        """Every operator parses into a comparison with that operator."""
        assert ("jsonPayload.status", op, "500") == words(
            parse_query(f"jsonPayload.status{op}500").filter
        )

    def test_exists(self) -> None:
        """f:* is the presence test."""
        assert words(parse_query("f:*").filter) == ("f", ":*", None)

    def test_null_value(self) -> None:
        """NULL_VALUE is its own literal."""
        node = parse_query("f = NULL_VALUE").filter
        assert isinstance(node, Compare)
        assert isinstance(node.value, NullValue)

    def test_quoted_path_segment_is_one_key(self) -> None:
        """jsonPayload."id.orig_h" is one key; unquoted dots nest."""
        quoted = parse_query('jsonPayload."id.orig_h"="x"').filter
        nested = parse_query('jsonPayload.id.orig_h="x"').filter
        assert isinstance(quoted, Compare)
        assert isinstance(nested, Compare)
        assert quoted.path.segments == ("jsonPayload", "id.orig_h")
        assert nested.path.segments == ("jsonPayload", "id", "orig_h")

    def test_escaped_quote_in_segment(self) -> None:
        """Backslash escapes a quote inside a quoted segment."""
        node = parse_query(r'jsonPayload."\"q\""=1').filter
        assert isinstance(node, Compare)
        assert node.path.segments == ("jsonPayload", '"q"')

    def test_search_forms(self) -> None:
        """SEARCH takes a query string, optionally after a field."""
        one = parse_query('SEARCH("a b")').filter
        two = parse_query('SEARCH(textPayload, "a")').filter
        assert isinstance(one, Search)
        assert one.path is None
        assert isinstance(two, Search)
        assert two.path is not None

    def test_comment_runs_to_end_of_line(self) -> None:
        """-- starts a comment; the next line is ANDed."""
        assert words(parse_query("a -- ignore me\nb").filter) == ("AND", "a", "b")


class TestPrecedence:
    @pytest.mark.parametrize(
        ("written", "expected"),
        [
            ("a AND b OR c", ("AND", "a", ("OR", "b", "c"))),
            ("a OR b AND c", ("AND", ("OR", "a", "b"), "c")),
            ("a b OR c", ("AND", "a", ("OR", "b", "c"))),
            ("a OR b c", ("AND", ("OR", "a", "b"), "c")),
            (
                "p OR NOT q AND NOT r OR s",
                ("AND", ("OR", "p", ("NOT", "q")), ("OR", ("NOT", "r"), "s")),
            ),
            ("-severity=DEBUG", ("NOT", ("severity", "=", "DEBUG"))),
            ("(a AND b) OR c", ("OR", ("AND", "a", "b"), "c")),
            ("a and b", ("AND", "a", "and", "b")),
            ("ANDROID", "ANDROID"),
        ],
    )
    def test_cloud_logging_precedence(self, written: str, expected: object) -> None:
        """NOT binds tightest, then OR, then AND (reference section 1)."""
        assert expected == words(parse_query(written).filter)

    def test_parenthesised_values_distribute(self) -> None:
        """f = ("a" OR "b") means f="a" OR f="b"."""
        assert words(parse_query('f = ("a" OR "b")').filter) == (
            "OR",
            ("f", "=", "a"),
            ("f", "=", "b"),
        )

    def test_unparenthesised_or_is_a_global(self) -> None:
        """insertId = "A" OR "B" ORs a global restriction B (documented trap)."""
        assert words(parse_query('insertId = "A" OR "B"').filter) == (
            "OR",
            ("insertId", "=", "A"),
            "B",
        )


class TestStages:
    def test_pipeline(self) -> None:
        """Stages follow the filter in order."""
        query = parse_query(
            "severity>=ERROR | groupBy path, method | count | orderBy count desc "
            "| limit 5"
        )
        assert [s.kind for s in query.stages] == [
            "groupBy",
            "count",
            "orderBy",
            "limit",
        ]
        assert query.stages[2].descending

    def test_stats_and_timechart(self) -> None:
        """stats lists aggregates and groups; timechart has a span."""
        query = parse_query("x | stats count(), p95(latencyMs) by path | limit 3")
        chart = parse_query("x | timechart 5m avg(latencyMs)")
        assert [a.name for a in query.stages[0].aggs] == ["count()", "p95(latencyMs)"]
        assert chart.stages[0].span == "5m"


class TestErrors:
    @pytest.mark.parametrize(
        ("query", "code", "column", "says"),
        [
            ("a =", "unexpected_end", 4, "expected"),
            ("f = (a", "unexpected_end", 7, "')'"),
            ('f = "abc', "unterminated_string", 5, "never closed"),
            ("insertId = abc:def", "syntax_error", 15, "Unexpected"),
            ("a)", "syntax_error", 2, "Unexpected ')'"),
            ("x | grp path", "unknown_stage", 5, "groupBy"),
            ('log_id("x")', "unknown_function", 1, "log_id"),
            ("x | limit", "unexpected_end", 10, "whole number"),
        ],
    )
    def test_errors_point_at_the_column(
        self, query: str, code: str, column: int, says: str
    ) -> None:
        """A syntax error has a stable code, the column, and what was expected."""
        with pytest.raises(QueryError) as caught:
            parse_query(query)

        assert code == caught.value.code
        assert column == caught.value.column
        assert says in caught.value.message

    def test_pointer_draws_a_caret(self) -> None:
        """pointer() shows the query and a caret under the column."""
        with pytest.raises(QueryError) as caught:
            parse_query("severity >= ")

        assert "severity >= \n            ^" in caught.value.pointer()

    def test_too_long(self) -> None:
        """Cloud Logging's 20,000-character cap applies."""
        with pytest.raises(QueryError) as caught:
            parse_query("a " * 10_001)

        assert caught.value.code == "query_too_long"


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list('ab =!<>:~*()"\\-|.,AND OR NOT0123456789\n')),
        max_size=40,
    )
)
def test_random_input_raises_only_query_error(text: str) -> None:
    """Whatever is typed, parsing either succeeds or raises QueryError."""
    with contextlib.suppress(QueryError):
        parse_query(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_random_unicode_raises_only_query_error(text: str) -> None:
    """Arbitrary Unicode, too, never raises anything but QueryError."""
    with contextlib.suppress(QueryError):
        parse_query(text)
