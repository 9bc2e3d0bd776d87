"""Skip lines that cannot match before DuckDB splits and parses them.

A selective lookup (``jsonPayload.userId="u-4242"``, a trace, a bare word)
matches a handful of lines in millions. Reading every line through DuckDB costs
far more than looking for the value's bytes the way grep does, so ``narrow``
copies the lines that may match into a small file and DuckDB reads that one.
It only ever drops lines; the full query still runs on the rest.

When a line cannot match (why dropping it is exact):

* Equality and "has" compare ``lower(value)`` with ``lower(literal)``, so a
  matching value holds the whole literal up to case. DuckDB's ``lower`` maps
  one character to one, changes no ASCII character but the letters A-Z, and
  maps exactly two non-ASCII characters to ASCII ones: U+0130 to ``i`` and
  KELVIN SIGN to ``k`` (checked over every code point with DuckDB 2.0). So
  where the literal has an ``i`` the value holds ``i``, ``I`` or U+0130, where
  it has a ``k`` it holds ``k``, ``K`` or U+212A, any other letter in either
  case, and every other character as written. The needle is that pattern,
  searched for in the UTF-8 bytes of the line (``u-4242`` matches ``U-4242``).
* The value sits in the raw line as JSON, where an escape may spell it
  differently (``\\u0034`` for ``4``, ``\\/`` for ``/``, ``\\"`` for a
  quote). Lines holding a backslash escape other than ``\\b \\f \\n \\r
  \\t`` (none of which spells a printable character) are therefore always
  kept. That test is case-sensitive: ``\\B`` is no escape JSON allows, so the
  line is kept as well.
* A number's text is not written in the line as DuckDB renders it (``4.2e3``
  reads as ``4200.0``), and numeric literals also match numeric text (mgops
  extension 7), so a literal made only of characters a number's text can
  hold gets no needle. Severity and timestamps are compared by meaning, not by
  text, so they get none either.
* A lower bound (``latencyMs>1000``, ``>=``) of ten or more on a field read
  by its key needs that key in the line, up to case (struct mode reads keys
  case-insensitively), then a colon and a value that may exceed the bound.
  A JSON number with fewer integer digits than the bound's whole part, and
  no exponent, is below it, and so is a negative number; any other value
  (text, which may hold a number, an array, ``NaN``) keeps the line.
  ``textPayload`` has no key in a text line, so it gets no needle.

``needles`` works out what every matching line must contain; ``narrow`` scans
plain files for it with Hyperscan (gzip stays with DuckDB, which decompresses
in parallel). A property test checks that answers with and without narrowing
are equal.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import mmap
import os
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mgops.logs.ast import And, Compare, Global, Node, Or, Value
from mgops.logs.ast import Path as PathNode
from mgops.logs.compile import NUMBER_LITERAL
from mgops.logs.plan import InputFile

MAX_WORKERS = 4
MIN_NEEDLE = 3  # shorter literals match too many lines to be worth a pass
# Scanning stops when this share of the bytes seen so far is kept: DuckDB
# then reads the original file faster than Python copies most of it.
MAX_KEPT_SHARE = 0.25
_CHUNK_BYTES = 32 << 20
_CASELESS_FIELDS = ("severity", "timestamp", "receivetimestamp")
# Characters that can appear in the text DuckDB gives a JSON number.
_NUMBER_CHARS = set("0123456789.+-eEinfatyINFATY")
_ESCAPE = rb"\\[^bfnrt\n]"
# The keys a lower bound looks for (a JSON string spells them as written).
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A larger bound asks for this many digits only, which keeps more lines, not fewer.
_MAX_DIGITS = 15
# The UTF-8 of the only non-ASCII characters DuckDB lowers to ASCII letters.
_LOWERED_TO = {ord("i"): "\u0130".encode(), ord("k"): "\u212a".encode()}


@dataclass(frozen=True)
class Needles:
    """Every matching line matches one of ``patterns``, or holds an escape.

    The patterns are Hyperscan's, matched with ASCII case folded: a literal's
    (``caseless_pattern``) or a lower bound's (``lower_bound_pattern``).
    """

    patterns: tuple[bytes, ...]


# A needle and how well it skips (a literal's length): AND takes the best.
_Needle = tuple[int, bytes]


def caseless_pattern(word: bytes) -> bytes:
    """A Hyperscan pattern for the bytes whose ``lower`` is ``word``.

    Meant for ``HS_FLAG_CASELESS``, which folds ASCII letters only; every
    other byte is written as ``\\xHH`` so that none is read as syntax.
    """
    parts = []
    for byte in word:
        letter = bytes([byte])
        if letter.isalpha() and byte in _LOWERED_TO:
            parts.append(b"(?:" + letter + b"|" + _hex(_LOWERED_TO[byte]) + b")")
        elif letter.isalpha():
            parts.append(letter)
        else:
            parts.append(_hex(letter))
    return b"".join(parts)


def lower_bound_pattern(key: str, digits: int) -> bytes:
    """A Hyperscan pattern for ``"key":`` and a value that may be large.

    Kept: any value that is not a JSON number (a string may hold numeric text,
    an array compares element by element), a number with ``digits`` or more
    integer digits, and a number with an exponent. Dropped: a number with fewer
    integer digits, which is below ``10**(digits-1)``, and a negative number.
    """
    space = rb"[ \t\r]*"
    value = rb"(?:[^0-9 \t\r\-]|\-[^0-9]|[0-9]{%d}|[0-9]+(?:\.[0-9]*)?[eE])" % digits
    quote = _hex(b'"')
    key_text = caseless_pattern(key.lower().encode())
    return b"".join([quote, key_text, quote, space, b":", space, value])


def _hex(data: bytes) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in data)


@functools.lru_cache(maxsize=8)
def _database(needles: tuple[bytes, ...]) -> Any:
    """A compiled search for lines matching one of ``needles`` or an escape.

    Each pattern runs on to the end of its line, so a line is reported once
    per pattern however many needles or escapes it holds.
    """
    import hyperscan  # here: 12 ms of start-up that only narrowing needs

    to_line_end = rb"[^\n]*$"
    patterns = [n + to_line_end for n in needles]
    caseless = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_MULTILINE
    # Case-sensitive: under CASELESS, [^bfnrt] would no longer keep \B, \N, ...
    patterns.append(_ESCAPE + to_line_end)
    flags = [caseless] * len(needles) + [hyperscan.HS_FLAG_MULTILINE]
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=patterns, ids=list(range(len(patterns))), flags=flags)
    return database


def needles(node: Node | None) -> Needles | None:
    """What each line matching ``node`` must contain, or None when unknown."""
    found = _needles(node) if node is not None else None
    return Needles(tuple(sorted({p for _, p in found}))) if found else None


def _needles(node: Node) -> list[_Needle] | None:
    if isinstance(node, And):
        # Any one conjunct's needle will do; the longest skips fastest.
        options = [n for n in (_needles(i) for i in node.items) if n]
        return max(options, key=lambda n: min(w for w, _ in n), default=None)
    if isinstance(node, Or):
        alternatives = [_needles(i) for i in node.items]
        if any(a is None for a in alternatives):
            return None
        return [n for a in alternatives if a for n in a]
    if isinstance(node, Global):
        return _needle(node.value.text)
    if not isinstance(node, Compare) or not isinstance(node.value, Value):
        return None  # NOT, SEARCH, presence, NULL_VALUE
    if node.path.segments[0].lower() in _CASELESS_FIELDS:
        return None
    if node.op in ("=", ":"):
        return _needle(node.value.text)
    if node.op in (">", ">="):
        return _lower_bound(node.path, node.value.text)
    return None  # other ranges, regular expressions


def _needle(literal: str) -> list[_Needle] | None:
    if not literal.isascii() or not literal.isprintable():
        return None
    if set(literal) <= _NUMBER_CHARS or len(literal) < MIN_NEEDLE:
        return None
    return [(len(literal), caseless_pattern(literal.lower().encode("ascii")))]


def _lower_bound(path: PathNode, literal: str) -> list[_Needle] | None:
    """Lines where ``path`` may hold a value above a number of two digits or more.

    Only a field read from JSON by its key qualifies: its key is in the line,
    written as itself or with an escape. ``textPayload`` is the whole text of
    a text line, so a line ``5000`` holds it with no key.
    """
    if not NUMBER_LITERAL.fullmatch(literal.strip()):
        return None  # text compares as text: no bound on its bytes
    first, key = path.segments[0].lower(), path.segments[-1]
    if first == "textpayload" or (first == "jsonpayload" and len(path.segments) < 2):
        return None
    if not _KEY.fullmatch(key):
        return None
    bound = float(literal)
    if not 10 <= bound < math.inf:  # NaN compares as nothing here
        return None
    digits = min(len(str(int(bound))), _MAX_DIGITS)
    # Weighed below any literal: AND prefers a value, usually the rarer needle.
    return [(1, lower_bound_pattern(key, digits))]


def narrow(files: list[InputFile], wanted: Needles, workdir: Path) -> list[InputFile]:
    """``files`` with each plain file replaced by its lines that may match."""
    narrowed = []
    for index, source in enumerate(files):
        if source.gzip:
            narrowed.append(source)
            continue
        target = workdir / f"narrowed-{index}.jsonl"
        if _copy_candidates(Path(source.path), target, wanted, workdir):
            narrowed.append(dataclasses.replace(source, path=str(target)))
        else:
            narrowed.append(source)
    return [f for f in narrowed if f.gzip or Path(f.path).stat().st_size]


def _copy_candidates(path: Path, target: Path, wanted: Needles, workdir: Path) -> bool:
    """Write the candidate lines of ``path``; False when too many to be worth it."""
    with path.open("rb") as handle, target.open("wb") as out:
        if path.stat().st_size == 0:
            return True
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            spans = _scan(data, wanted, workdir)
            if spans is None:
                return False
            # Read with pread, not through the map: each touch of a mapped page
            # maps its neighbours too, and 1,600 scattered lines of a 5 GB file
            # grew the resident set by 1.8 GB.
            for start, end in zip(spans[::2], spans[1::2], strict=True):
                line = os.pread(handle.fileno(), end - start, start)
                out.write(line if line.endswith(b"\n") else line + b"\n")
    return True


def _scan(
    data: mmap.mmap, wanted: Needles, workdir: Path, workers: int | None = None
) -> array[int] | None:
    """Candidate line spans as flat (start, end) pairs; None when too many.

    A large file is cut at line ends into one part per core; forked children
    scan all parts but the first, which this process scans meanwhile (and any
    part no child could be forked for, afterwards).
    """
    bounds = _parts(data, workers or _workers(len(data)))
    _database(wanted.patterns)  # compiled once, here, for the children to inherit
    jobs: list[tuple[int, int, int | None, Path]] = []
    statuses: dict[int, int] = {}
    try:
        for number, (start, end) in enumerate(bounds[1:], 1):
            result = workdir / f"spans-{number}.bin"
            jobs.append(
                (start, end, _fork_scan(data, wanted, start, end, result), result)
            )
        found = _scan_part(data, wanted, *bounds[0])
    finally:
        for _, _, pid, _ in jobs:
            if pid is not None:
                statuses[pid] = os.waitpid(pid, 0)[1]

    for start, end, pid, result in jobs:
        if found is None:
            return None
        if pid is None:
            part = _scan_part(data, wanted, start, end)
        elif os.waitstatus_to_exitcode(statuses[pid]) == 0:
            part = array("q", result.read_bytes())
        else:
            part = None  # too many candidates there, or the child failed
        found = None if part is None else found + part
    return found


def _fork_scan(
    data: mmap.mmap, wanted: Needles, start: int, end: int, result: Path
) -> int | None:
    """A child scanning one part into ``result``; None when none can be forked."""
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: scan, write the spans, leave without cleanup
        status = 1
        try:
            spans = _scan_part(data, wanted, start, end)
            result.write_bytes(spans.tobytes() if spans is not None else b"")
            status = 0 if spans is not None else 2
        finally:
            os._exit(status)
    return pid


def _workers(size: int) -> int:
    """Parts to scan at once: one per core, when forking is safe and worth it.

    A child forked from a process with other threads may inherit a lock one of
    them held; the scan forks only when this process runs a single thread (a
    Linux count that also sees DuckDB's native threads).
    """
    if size < 4 * _CHUNK_BYTES or not hasattr(os, "fork"):
        return 1
    try:
        if len(os.listdir("/proc/self/task")) != 1:
            return 1
        cores = len(os.sched_getaffinity(0))
    except (OSError, AttributeError):
        return 1
    return max(1, min(cores, MAX_WORKERS))


def _parts(data: mmap.mmap, count: int) -> list[tuple[int, int]]:
    size = len(data)
    cuts = [0]
    for number in range(1, count):
        newline = data.find(b"\n", max(cuts[-1], size * number // count))
        if newline < 0:
            break
        cuts.append(newline + 1)
    cuts.append(size)
    return [(a, b) for a, b in itertools.pairwise(cuts) if a < b]


def _scan_part(
    data: mmap.mmap, wanted: Needles, first: int, last: int
) -> array[int] | None:
    spans = array("q")
    kept = 0
    for start, end in _candidate_lines(data, wanted, first, last):
        spans.extend((start, end))
        kept += end - start
        if kept > MAX_KEPT_SHARE * (end - first) and kept > _CHUNK_BYTES // 8:
            return None
    return spans


def _candidate_lines(
    data: mmap.mmap, wanted: Needles, first: int, last: int
) -> Iterator[tuple[int, int]]:
    """(start, end) of each line holding a needle or an escape, in file order.

    ``first`` and ``last`` are line starts (or the end of the file).
    """
    database = _database(wanted.patterns)
    chunk_start = first
    while chunk_start < last:
        # Chunks end at a line end, so no line and no needle spans two.
        newline = data.find(b"\n", min(chunk_start + _CHUNK_BYTES, last - 1), last)
        chunk_end = last if newline < 0 else newline + 1
        lines = _LineCollector(data, chunk_start, chunk_end)
        with memoryview(data)[chunk_start:chunk_end] as chunk:
            database.scan(chunk, lines.on_match)
        yield from lines.spans
        _release(data, chunk_start, chunk_end)
        chunk_start = chunk_end


class _LineCollector:
    """Turns Hyperscan's match ends within one chunk into line spans."""

    def __init__(self, data: mmap.mmap, chunk_start: int, chunk_end: int) -> None:
        self.data, self.chunk_start, self.chunk_end = data, chunk_start, chunk_end
        self.found: list[tuple[int, int]] = []

    def on_match(self, _id: int, _start: int, end: int, _flags: int, _ctx: Any) -> None:
        # No match holds a newline, so its last byte tells the line.
        last_byte = self.chunk_start + end - 1
        if self.found and self.found[-1][0] <= last_byte < self.found[-1][1]:
            return  # the other pattern, in the line just kept
        start = self.data.rfind(b"\n", self.chunk_start, last_byte) + 1
        newline = self.data.find(b"\n", last_byte, self.chunk_end)
        end_of_line = self.chunk_end if newline < 0 else newline + 1
        self.found.append((start or self.chunk_start, end_of_line))

    @property
    def spans(self) -> list[tuple[int, int]]:
        """Each line once, in file order (whatever order matches came in)."""
        return sorted(set(self.found))


def _release(data: mmap.mmap, start: int, end: int) -> None:
    """Unmap scanned pages: they stay in the page cache, but leave this
    process's resident set, which would otherwise grow to the file's size."""
    if hasattr(mmap, "MADV_DONTNEED"):
        first = start - start % mmap.PAGESIZE
        data.madvise(mmap.MADV_DONTNEED, first, end - end % mmap.PAGESIZE - first)
