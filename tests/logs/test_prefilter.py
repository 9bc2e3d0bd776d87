"""Narrowing a file to the lines that may match changes no answer."""

from __future__ import annotations

import gzip
import io
import json
import mmap
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgops.errors import QueryError
from mgops.logs import FileSource, QueryResult, StreamSource, run_query
from mgops.logs.parse import parse_query
from mgops.logs.plan import InputFile
from mgops.logs.prefilter import (
    Needles,
    _scan,
    caseless_pattern,
    lower_bound_pattern,
    narrow,
    needles,
)

TRACE = "projects/media-gateway/traces/6150b67d7495d9097e00b8ef366d457d"


def needle_words(query: str) -> tuple[bytes, ...] | None:
    found = needles(parse_query(query).filter)
    return found.patterns if found else None


def literal(*words: bytes) -> tuple[bytes, ...]:
    return tuple(caseless_pattern(w) for w in words)


def literals(*words: bytes) -> Needles:
    return Needles(literal(*words))


def answer(result: QueryResult) -> tuple[object, ...]:
    return (result.shape, result.columns, result.rows, result.records(), result.notes)


class TestNeedles:
    def test_whole_literal_in_lowercase(self) -> None:
        """A value's needle is the whole literal, lowercased."""
        assert literal(b"u-4242") == needle_words('jsonPayload.userId="U-4242"')
        assert literal(TRACE.encode()) == needle_words(f'trace="{TRACE}"')
        assert literal(b"u-4242") == needle_words("u-4242")

    def test_letters_alone_are_a_needle(self) -> None:
        """A literal without digits or punctuation is searched for too."""
        assert literal(b"kiwi") == needle_words('userId:"Kiwi"')

    def test_no_needle_where_text_is_not_compared(self) -> None:
        """Numbers, severity, time, negation, ranges and short runs get none."""
        for query in (
            'userId="4242"',
            "latencyMs=1.5e3",
            'userId="-inf"',
            "severity=ERROR",
            'timestamp:"2024-12-06"',
            'NOT userId="u-4242"',
            'userId>"u-4242"',
            "latencyMs>9",
            "latencyMs<5000",
            "textPayload>1000",
            "jsonPayload>1000",
            'jsonPayload."a.b">1000',
            "latencyMs>nan",
            'userId=~"u-4242"',
            'userId="u4"',
            'userId="ü-4242"',
            "userId=NULL_VALUE",
            'SEARCH("u-4242")',
        ):
            assert needle_words(query) is None, query

    def test_lower_bound_on_a_key(self) -> None:
        """A bound of two digits or more looks for the key and a long number."""
        assert (lower_bound_pattern("latencyMs", 4),) == needle_words(
            "jsonPayload.latencyMs>1000"
        )
        assert (lower_bound_pattern("latencyMs", 3),) == needle_words(
            "latencyMs>=999.5"
        )
        assert literal(b"u-4242") == needle_words('latencyMs>1000 AND userId="u-4242"')

    def test_and_takes_one_side_or_needs_both(self) -> None:
        """AND needs one conjunct's needle; OR needs a needle on every side."""
        assert literal(b"req-123456") == needle_words(
            'userId="u-4242" AND requestId="req-123456"'
        )
        assert tuple(sorted(literal(TRACE.encode(), b"u-4242"))) == needle_words(
            f'userId="u-4242" OR trace="{TRACE}"'
        )
        assert needle_words('userId="u-4242" OR severity=ERROR') is None


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


class TestCaselessPattern:
    def test_letters_fold_and_the_rest_is_hex(self) -> None:
        """Letters stay for CASELESS to fold; other bytes cannot be syntax."""
        assert rb"u\x2d\x34\x2e" == caseless_pattern(b"u-4.")

    def test_i_and_k_also_match_what_lowers_to_them(self) -> None:
        """U+0130 stands for i and KELVIN SIGN for k, as DuckDB lowers them."""
        assert rb"(?:i|\xc4\xb0)(?:k|\xe2\x84\xaa)" == caseless_pattern(b"ik")


class TestNarrow:
    def test_keeps_lines_with_needle_or_escape(self, tmp_path: Path) -> None:
        """Lines holding the literal up to case or an escape are kept, in order."""
        lines = [
            '{"userId":"u-4242"}',
            '{"userId":"u-1"}',
            '{"userId":"U-4242"}',
            '{"userId":"u\\u002d4242"}',
            '{"message":"two\\nlines"}',
            '{"path":"a\\/b"}',
            '{"userId":"x-4242"}',
            '{"odd":"\\B"}',
        ]
        source = write_lines(tmp_path / "in.jsonl", lines)
        wanted = literals(b"u-4242")

        (narrowed,) = narrow([InputFile(str(source))], wanted, tmp_path)

        kept = Path(narrowed.path).read_text(encoding="utf-8").splitlines()
        assert [lines[0], lines[2], lines[3], lines[5], lines[7]] == kept

    def test_keeps_what_duckdb_lowers_to_the_literal(self, tmp_path: Path) -> None:
        """Mixed case, U+0130 for i and KELVIN SIGN for k keep a line."""
        lines = [
            '{"userId":"KiWi-7"}',
            '{"userId":"\u212aİwi-7"}',
            '{"userId":"kıwi-7"}',
            '{"userId":"kiwi-8"}',
            "plain KIWI-7 text",
        ]
        source = write_lines(tmp_path / "in.jsonl", lines)

        (narrowed,) = narrow([InputFile(str(source))], literals(b"kiwi-7"), tmp_path)

        kept = Path(narrowed.path).read_text(encoding="utf-8").splitlines()
        assert [lines[0], lines[1], lines[4]] == kept

    def test_lower_bound_keeps_what_may_exceed_it(self, tmp_path: Path) -> None:
        """Only numbers with fewer digits and negative numbers are dropped."""
        kept = [
            '{"latencyMs":1000}',
            '{"latencyMs" : 1e2}',
            '{"LATENCYMS":"12"}',
            '{"latencyMs":[1]}',
            '{"latencyMs":null}',
            '{"latency\\u004ds":1}',
            '{"latencyMs":-Infinity}',
        ]
        dropped = ['{"latencyMs":999.99}', '{"latencyMs":-5000}', '{"xlatencyMs":5000}']
        source = write_lines(tmp_path / "in.jsonl", [*dropped, *kept])
        wanted = Needles((lower_bound_pattern("latencyMs", 4),))

        (narrowed,) = narrow([InputFile(str(source))], wanted, tmp_path)

        assert kept == Path(narrowed.path).read_text(encoding="utf-8").splitlines()

    def test_a_line_is_kept_once(self, tmp_path: Path) -> None:
        """Many needles and escapes in one line still copy it once."""
        lines = ['{"a":"U-4242 u-4242 \\" \\u0041 \\/ u-4242"}', '{"b":"u-4242"}']
        source = write_lines(tmp_path / "in.jsonl", lines)

        (narrowed,) = narrow([InputFile(str(source))], literals(b"u-4242"), tmp_path)

        assert lines == Path(narrowed.path).read_text(encoding="utf-8").splitlines()

    def test_no_candidates_leaves_no_file(self, tmp_path: Path) -> None:
        """A file with no candidate line is not read at all."""
        source = write_lines(tmp_path / "in.jsonl", ['{"userId":"u-1"}'])

        assert [] == narrow([InputFile(str(source))], literals(b"u-4242"), tmp_path)

    def test_gzip_is_left_to_duckdb(self, tmp_path: Path) -> None:
        """Compressed input is read whole, as before."""
        source = InputFile(str(tmp_path / "in.jsonl.gz"), gzip=True)

        assert [source] == narrow([source], literals(b"u-4242"), tmp_path)

    def test_too_many_candidates_keep_the_original(self, tmp_path: Path) -> None:
        """When most lines are candidates, DuckDB reads the original file."""
        line = '{"userId":"u-4242","pad":"' + "x" * 200 + '"}'
        source = write_lines(tmp_path / "in.jsonl", [line] * 30_000)

        narrowed = narrow([InputFile(str(source))], literals(b"u-4242"), tmp_path)

        assert [InputFile(str(source))] == narrowed

    def test_parts_scanned_in_parallel_agree(self, tmp_path: Path) -> None:
        """Forked workers find the same spans as one process, in file order."""
        lines = [f'{{"userId":"u-{n % 5000}","n":{n}}}' for n in range(20_000)]
        source = write_lines(tmp_path / "in.jsonl", lines)
        wanted = literals(b"u-4242")

        with source.open("rb") as handle:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            single = _scan(data, wanted, tmp_path, workers=1)
            forked = _scan(data, wanted, tmp_path, workers=3)
            data.close()

        assert single is not None
        assert 8 == len(single)  # four lines, each with "u-4242" up to case
        assert single == forked

    def test_parts_without_a_child_are_scanned_here(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When the system refuses to fork, this process scans every part."""
        lines = [f'{{"userId":"u-{n % 5000}","n":{n}}}' for n in range(20_000)]
        source = write_lines(tmp_path / "in.jsonl", lines)

        def refuse() -> int:
            raise BlockingIOError("fork: Resource temporarily unavailable")

        monkeypatch.setattr(os, "fork", refuse)
        with source.open("rb") as handle:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            spans = _scan(data, literals(b"u-4242"), tmp_path, workers=3)
            data.close()

        assert spans is not None
        assert 8 == len(spans)


class TestSameAnswers:
    @pytest.mark.parametrize(
        "query",
        [
            'jsonPayload.userId="u-4242"',
            "jsonPayload.userId:4242",
            f'trace="{TRACE}"',
            'userId="k-4242"',
            "u-4242 | count",
        ],
    )
    def test_case_escapes_and_unicode(self, query: str, tmp_path: Path) -> None:
        """Case, JSON escapes and KELVIN SIGN never hide a match."""
        lines = [
            '{"jsonPayload":{"userId":"u-4242"},"severity":"INFO"}',
            '{"jsonPayload":{"userId":"U-4242"}}',
            '{"jsonPayload":{"userId":"u\\u002d4242"}}',
            '{"jsonPayload":{"userId":"\\u212a-4242"}}',
            '{"jsonPayload":{"userId":"\u212a-4242"}}',
            '{"userId":["x","u-4242"]}',
            f'{{"trace":"{TRACE.upper()}"}}',
            '{"trace":"' + TRACE.replace("/", "\\/") + '"}',
            "plain text u-4242",
            '{"jsonPayload":{"userId":"u-1"}}',
        ]
        source = FileSource(write_lines(tmp_path / "in.jsonl", lines))

        narrowed = run_query(query, [source])
        whole = run_query(query, [source], narrowing=False)

        assert answer(whole) == answer(narrowed)
        assert narrowed.rows

    def test_stdin_and_gzip(self, tmp_path: Path) -> None:
        """Streams are narrowed once written down; gzip is read whole."""
        data = b'{"userId":"u-4242"}\n{"userId":"u-1"}\n'
        packed = tmp_path / "in.jsonl.gz"
        packed.write_bytes(gzip.compress(data))
        query = 'userId="u-4242"'

        from_stdin = run_query(query, [StreamSource(io.BytesIO(data))])
        from_gzip = run_query(query, [FileSource(packed)])

        assert 1 == len(from_stdin.rows) == len(from_gzip.rows)


VALUES = [
    "u-4242",
    "U-4242",
    "u-42420",
    "x/u-4242/y",
    "4242",
    "u-1",
    "",
    "k-4242",
    "kiwi-7",
    "Kiwi",
    "media/traces/6150ab",
]
SPELLINGS = [
    lambda v: json.dumps(v),
    lambda v: json.dumps(v).replace("-", "\\u002d"),
    lambda v: json.dumps(v).replace("/", "\\/"),
    lambda v: json.dumps(v, ensure_ascii=False).replace("k", "\u212a"),
    lambda v: json.dumps(v.upper()),
    lambda v: json.dumps([v, "z"]),
    lambda v: "4242.0",
]
# Other ways to write a letter that DuckDB lowers to it: raw, and escaped.
RAW_LOWERED_FROM = {"i": ["\u0130"] * 2, "k": ["\u212a"] * 2}
ESCAPED_LOWERED_FROM = {"i": ["\\u0130"], "k": ["\\u212A"]}


@st.composite
def mixed_spelling(draw: st.DrawFn, value: str) -> str:
    """``value`` as a JSON string, each character in some case or form.

    Half the lines also use escapes; the other half must be found by the
    literal alone, which is where a missed form would show.
    """
    escapes = draw(st.booleans())
    out = []
    for char in value:
        forms = [char, char.upper(), char.lower(), *RAW_LOWERED_FROM.get(char, [])]
        if escapes:
            forms += [f"\\u{ord(char):04x}", *ESCAPED_LOWERED_FROM.get(char, [])]
        out.append(draw(st.sampled_from(forms)))
    return '"' + "".join(out) + '"'


@st.composite
def log_lines(draw: st.DrawFn) -> str:
    value = draw(st.sampled_from(VALUES))
    if draw(st.booleans()):
        value = draw(st.sampled_from(SPELLINGS))(value)
    else:
        value = draw(mixed_spelling(value.lower()))
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return f'{{"jsonPayload":{{"userId":{value}}},"trace":{value}}}'
    if shape == 1:
        return f'{{"userId":{value},"msg":"a\\nb"}}'
    if shape == 2:
        text = json.loads(value) if value.startswith('"') else value
        return f"text line {text}"
    return f'{{"labels":{{"k":{value}}},"severity":"ERROR"}}'


QUERIES = st.sampled_from(
    [
        'userId="u-4242"',
        "userId:4242",
        'jsonPayload.userId="k-4242"',
        'trace:"x/u-4242"',
        "u-4242",
        'labels.k="U-4242" OR userId="u-42420"',
        'userId="u-4242" AND severity>=ERROR',
        'userId="u-4242" | count',
        'textPayload:"u-4242"',
        'userId="KIWI-7"',
        'jsonPayload.userId:"kiwi"',
        "Kiwi",
        'trace="MEDIA/traces/6150AB"',
        'labels.k:"ia/tr" OR userId="kiwi"',
    ]
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(log_lines(), max_size=12), QUERIES)
def test_narrowing_changes_no_answer(
    tmp_path: Path, lines: list[str], query: str
) -> None:
    """Any file, any selective query: the same rows with and without narrowing."""
    source = FileSource(write_lines(tmp_path / "prop.jsonl", lines))
    try:
        whole = run_query(query, [source], narrowing=False)
    except QueryError:
        return

    assert answer(whole) == answer(run_query(query, [source]))


BOUND_VALUES = st.one_of(
    # Numbers just either side of each query's bound, in every JSON form.
    st.sampled_from(
        [
            *("5", "99", "100", "101", "698", "999", "999.5", "1000", "1001"),
            *("1000.5", "5000", "20000", "-5000", "-0", "0.5", "99.99"),
        ]
    ),
    st.sampled_from(["1e3", "1.5E3", "2e-1", "1E+4", "9.99e2", "12e2", "-2e4"]),
    st.sampled_from(
        [
            *("null", "true", '"5000"', '" 5000"', '"abc"', '"1e4"', '"NaN"'),
            *('"inf"', "[5000]", "[1, 20000]", "[1]", '{"v": 5000}', "-Infinity"),
            '"\\u0035000"',
        ]
    ),
    st.integers(-20_000, 20_000).map(str),
    st.floats(-1e5, 1e5).map(repr),
)
# The plain key most often, so that most files hold a row to lose.
BOUND_KEYS = ["latencyMs"] * 5 + ["LATENCYMS", "latency\\u004ds", "latencyMs2"]
BOUND_KEYS += ["xlatencyMs"]


@st.composite
def bound_lines(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(BOUND_KEYS))
    space = draw(st.sampled_from(["", " ", "\t", " \r "]))
    pair = f'"{key}"{space}:{space}{draw(BOUND_VALUES)}'
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return f'{{"jsonPayload":{{{pair},"userId":"u-1"}},"severity":"INFO"}}'
    if shape == 1:
        return f"{{{pair}}}"
    if shape == 2:
        return f"took {draw(BOUND_VALUES)} ms"
    return f'{{"labels":{{{pair}}},"insertId":"x"}}'


BOUND_QUERIES = st.sampled_from(
    [
        "jsonPayload.latencyMs>1000",
        "jsonPayload.latencyMs>=999.5",
        "jsonPayload.latencyMs>1e3",
        "latencyMs>1000",
        'latencyMs>10 AND userId="u-1"',
        'latencyMs>1000 OR userId="u-4242"',
        "labels.latencyMs>100",
        "latencyMs>1000 | count",
        'jsonPayload.latencyMs>"1000"',
    ]
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(bound_lines(), max_size=12), BOUND_QUERIES, st.booleans())
def test_lower_bounds_change_no_answer(
    tmp_path: Path, lines: list[str], query: str, strict: bool
) -> None:
    """Any file, any lower bound, strict or not: the same rows either way."""
    source = FileSource(write_lines(tmp_path / "bound.jsonl", lines))
    try:
        whole = run_query(query, [source], narrowing=False, strict=strict)
    except QueryError:
        return

    assert answer(whole) == answer(run_query(query, [source], strict=strict))
