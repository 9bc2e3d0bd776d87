"""Where a query's field lives in a line, and how its value is read in SQL.

A line is one of three shapes:

* a **LogEntry** (``jsonPayload``, ``textPayload``, ``protoPayload``, ``logName``
  or ``insertId`` at the top): paths are read as written;
* a **flat JSON object** as an application prints it (mgops extension 1): the
  object is the ``jsonPayload``, so ``jsonPayload.latencyMs`` reads ``$.latencyMs``;
  LogEntry names it carries itself (``severity``, ``trace``, ``labels``…) are read
  from the top as well;
* **text** (not a JSON object): its only field is ``textPayload``.

A first segment that is no LogEntry field resolves into ``jsonPayload``
(extension 2); ``severity`` falls back to ``level``/``lvl`` (extension 3) and
``timestamp`` to ``time``/``ts``/``@timestamp`` for flat lines (extension 5).
``--strict`` switches all of these off: every line is read as a LogEntry.
"""

from __future__ import annotations

from dataclasses import dataclass

from mgops.errors import QueryError
from mgops.logs.ast import Path

LOGENTRY_FIELDS = {
    name.lower(): name
    for name in (
        "logName",
        "resource",
        "timestamp",
        "receiveTimestamp",
        "severity",
        "insertId",
        "httpRequest",
        "labels",
        "metadata",
        "operation",
        "trace",
        "spanId",
        "traceSampled",
        "sourceLocation",
        "split",
        "textPayload",
        "jsonPayload",
        "protoPayload",
        "errorGroups",
        "apphub",
        "apphubDestination",
        "apphubSource",
    )
}
# Top-level keys that make a JSON line a LogEntry rather than a flat payload.
ENTRY_MARKERS = ("jsonPayload", "textPayload", "protoPayload", "logName", "insertId")
# LogEntry fields that hold a scalar, so a path below them cannot exist.
SCALAR_LEAVES = (
    "textPayload",
    "logName",
    "insertId",
    "trace",
    "spanId",
    "traceSampled",
)
_FLAT_TIME_KEYS = ("timestamp", "time", "ts", "@timestamp")

JsonPath = tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """A resolved field: its kind and the JSON paths to read it from.

    ``kind`` is ``json`` (an ordinary value), ``severity``, ``timestamp`` or
    ``text`` (``textPayload``, which a text line fills with the whole line).
    ``entry`` is the path inside a LogEntry; ``flat`` the paths tried in order
    inside a flat line (empty in strict mode, or when a flat line cannot hold it).
    """

    kind: str
    entry: JsonPath
    flat: tuple[JsonPath, ...]
    label: str


def resolve(path: Path, *, strict: bool, query: str = "") -> Field:
    """Resolve a written path to a ``Field``, or raise ``undefined_field``."""
    first, *rest = path.segments
    canonical = LOGENTRY_FIELDS.get(first.lower())
    label = path.text()

    if canonical is None:
        if strict:
            raise QueryError(
                f"{first!r} is not a LogEntry field; write jsonPayload.{label} "
                "(bare payload names are an mgops extension that --strict turns off).",
                query=query,
                column=path.column or None,
                code="undefined_field",
            )
        return _payload((first, *rest), label)

    if canonical in SCALAR_LEAVES and rest:
        raise QueryError(
            f"{canonical} has no fields inside it, so {label!r} can never exist.",
            query=query,
            column=path.column or None,
            code="undefined_field",
        )
    if canonical == "jsonPayload":
        return _payload(tuple(rest), label, strict=strict)
    entry = (canonical, *rest)
    if canonical == "severity":
        flat = () if strict else (("severity",), ("level",), ("lvl",))
        return Field("severity", entry, flat, label)
    if canonical in ("timestamp", "receiveTimestamp") and not rest:
        times = tuple((k,) for k in _FLAT_TIME_KEYS) if canonical == "timestamp" else ()
        return Field("timestamp", entry, () if strict else times, label)
    if canonical == "textPayload":
        return Field("text", entry, (), label)
    return Field("json", entry, () if strict else (entry,), label)


def _payload(rest: JsonPath, label: str, *, strict: bool = False) -> Field:
    entry = ("jsonPayload", *rest)
    return Field("json", entry, () if strict else (rest,), label)


def json_path(path: JsonPath) -> str:
    """A DuckDB JSON path with every segment quoted: ``$."a.b"."c"``."""
    if not path:
        return "$"
    return "$" + "".join("." + '"' + _escape_key(p) + '"' for p in path)


def _escape_key(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')
