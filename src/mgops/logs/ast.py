"""The parsed form of a log query: a filter tree and a list of pipe stages.

Every node keeps ``column``, the 1-based position in the query text where it
starts, so errors found after parsing (an unknown function, a bad regular
expression) can still point at the right place.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Path:
    """A field path; ``quoted`` marks segments written in double quotes."""

    segments: tuple[str, ...]
    column: int = 0

    def text(self) -> str:
        parts = (
            s if s.replace("_", "a").isalnum() and s.isascii() else _quote(s)
            for s in self.segments
        )
        return ".".join(parts)


def _quote(segment: str) -> str:
    return '"' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Value:
    """A literal as written: ``quoted`` tells ``"500"`` from ``500``."""

    text: str
    quoted: bool = False
    column: int = 0


@dataclass(frozen=True)
class NullValue:
    """``NULL_VALUE``: matches an explicit JSON null."""

    column: int = 0


@dataclass(frozen=True)
class Compare:
    path: Path
    op: str
    value: Value | NullValue | None  # None for ``f:*``
    column: int = 0


@dataclass(frozen=True)
class Global:
    """A lone value: some leaf of the entry contains it (case-insensitive)."""

    value: Value
    column: int = 0


@dataclass(frozen=True)
class Search:
    """``SEARCH("query")`` or ``SEARCH(field, "query")``: whole-token search."""

    text: str
    path: Path | None = None
    column: int = 0


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Compare | Global | Search | And | Or | Not


@dataclass(frozen=True)
class Agg:
    """One aggregate of ``stats`` or ``timechart``: ``count()``, ``p95(latencyMs)``."""

    func: str
    path: Path | None = None
    column: int = 0

    @property
    def name(self) -> str:
        return f"{self.func}({self.path.text() if self.path else ''})"


@dataclass(frozen=True)
class Stage:
    """One pipe stage; which attributes matter depends on ``kind``."""

    kind: str  # groupBy count orderBy limit fields stats top timechart
    paths: tuple[Path, ...] = ()
    aggs: tuple[Agg, ...] = ()
    number: int | None = None
    descending: bool = False
    span: str = ""
    column: int = 0


@dataclass(frozen=True)
class Query:
    text: str
    filter: Node | None
    stages: tuple[Stage, ...] = field(default_factory=tuple)
