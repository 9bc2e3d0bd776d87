"""Where lines come from, and how each input becomes NDJSON that DuckDB reads.

A ``LogSource`` is anything that can hand over bytes: a file (``FileSource``),
a stream such as stdin (``StreamSource``) or an iterable of lines
(``LinesSource``, the seam a Kubernetes pod-log reader plugs into). ``prepare``
turns sources into ``InputFile``s:

* plain NDJSON files, raw or gzip (detected by magic bytes; DuckDB reads every
  member), are read by DuckDB in place: the fast path;
* everything else is rewritten once into a temporary NDJSON file: JSON arrays
  as ``gcloud logging read --format=json`` writes them, Docker json-file lines
  (``{"log": …}``, split lines joined), CRI lines (``P`` partials joined), files
  with a byte-order mark or invalid UTF-8 (bad bytes become U+FFFD), streams.

A container line whose message is a JSON object becomes that object; any other
message becomes ``{"textPayload": …, "timestamp": …}``, a LogEntry.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from mgops.errors import InputError
from mgops.logs.fields import ENTRY_MARKERS
from mgops.logs.plan import InputFile

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 1 << 16
_CRI = re.compile(rb"^(\S+) (stdout|stderr) ([FP]) ?(.*)$", re.S)
_DOCKER_KEYS = {"log", "stream", "time", "attrs"}
_TIME_KEYS = ("timestamp", "time", "ts", "@timestamp")


class LogSource(Protocol):
    """Bytes of log lines; ``local_path`` is set when DuckDB may read the file."""

    name: str

    def local_path(self) -> Path | None: ...

    def open(self) -> BinaryIO: ...


@dataclass
class FileSource:
    path: Path
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or str(self.path)

    def local_path(self) -> Path | None:
        return self.path

    def open(self) -> BinaryIO:
        return self.path.open("rb")


@dataclass
class StreamSource:
    stream: BinaryIO
    name: str = "-"

    def local_path(self) -> Path | None:
        return None

    def open(self) -> BinaryIO:
        return self.stream


@dataclass
class LinesSource:
    """Lines from anywhere (a pod-log reader, a test): each item one line."""

    lines: Iterable[bytes | str]
    name: str = "lines"

    def local_path(self) -> Path | None:
        return None

    def open(self) -> BinaryIO:
        data = b"".join(
            (line.encode("utf-8") if isinstance(line, str) else line).rstrip(b"\n")
            + b"\n"
            for line in self.lines
        )
        return io.BytesIO(data)


def sources_from_args(
    args: list[str], stdin: BinaryIO | None = None
) -> list[LogSource]:
    """Files, directories (every file below, in name order) and ``-`` for stdin."""
    found: list[LogSource] = []
    for arg in args:
        if arg == "-":
            if stdin is None:
                raise InputError("'-' means standard input, but there is none.")
            found.append(StreamSource(stdin))
            continue
        path = Path(arg)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            found.extend(FileSource(p) for p in files if not p.name.startswith("."))
        elif path.is_file():
            found.append(FileSource(path))
        else:
            raise InputError(f"{arg} does not exist; give a file, a directory or '-'.")
    return found


@dataclass
class Prepared:
    files: list[InputFile] = field(default_factory=list)
    total_bytes: int = 0
    notes: list[str] = field(default_factory=list)


def prepare(
    sources: list[LogSource], workdir: Path, *, sanitize: bool = False
) -> Prepared:
    """Decide per source: read in place, or rewrite into ``workdir`` first."""
    prepared = Prepared()
    for index, source in enumerate(sources):
        path = source.local_path()
        if path is None:
            # A stream can be read once: keep its bytes for a second pass.
            path = workdir / f"stream-{index}.raw"
            if not path.exists():
                with source.open() as stream, path.open("wb") as out:
                    _copy(stream, out)
        compressed, head = _sniff(path)
        prepared.total_bytes += path.stat().st_size
        kind = _kind(head)
        if kind == "empty":
            continue
        if kind == "ndjson" and not sanitize and not head.startswith(BOM):
            clean, entries = _head_shape(head)
            prepared.files.append(
                InputFile(str(path), gzip=compressed, clean=clean, entries=entries)
            )
            continue
        target = workdir / f"input-{index}.jsonl"
        with _open_text(path, compressed) as raw, target.open("wb") as out:
            count = _rewrite(kind, raw, out)
        if kind != "ndjson":
            prepared.notes.append(f"{source.name}: read as {kind} ({count} entries).")
        prepared.files.append(InputFile(str(target), long_lines=sanitize))
    return prepared


def _copy(stream: BinaryIO, out: BinaryIO) -> None:
    while chunk := stream.read(1 << 20):
        out.write(chunk)


def _sniff(path: Path) -> tuple[bool, bytes]:
    with path.open("rb") as handle:
        magic = handle.read(2)
    compressed = magic == GZIP_MAGIC
    try:
        with _open_text(path, compressed) as stream:
            return compressed, stream.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        raise InputError(f"{path} looks like gzip but cannot be read.") from None


def _open_text(path: Path, compressed: bool) -> BinaryIO:
    if compressed:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _kind(head: bytes) -> str:
    body = head.removeprefix(BOM).lstrip()
    if not body:
        return "empty"
    if body.startswith(b"["):
        return "gcloud JSON array"
    first = body.split(b"\n", 1)[0].rstrip(b"\r")
    if _CRI.match(first) and not first.startswith(b"{"):
        return "CRI container log"
    try:
        record = json.loads(first)
    except ValueError:
        return "ndjson"
    if isinstance(record, dict) and "log" in record and set(record) <= _DOCKER_KEYS:
        return "Docker json-file log"
    return "ndjson"


def _head_shape(head: bytes) -> tuple[bool, bool]:
    """Whether every whole line of ``head`` is a JSON object, and a LogEntry.

    Hints for the planner's choice of a faster reading, never promises: the
    readings they choose give the same answers for any line.
    """
    lines = head.split(b"\n")
    if len(head) == _SNIFF_BYTES:
        lines.pop()  # cut short by the sniff
    try:
        records = [json.loads(line) for line in lines if line.strip()]
    except ValueError:
        return False, False
    if not all(isinstance(r, dict) for r in records):
        return False, False
    return True, all(any(m in r for m in ENTRY_MARKERS) for r in records)


def _rewrite(kind: str, raw: BinaryIO, out: BinaryIO) -> int:
    lines: Iterator[bytes]
    if kind == "gcloud JSON array":
        lines = _array_lines(raw)
    elif kind == "CRI container log":
        lines = _cri_lines(raw)
    elif kind == "Docker json-file log":
        lines = _docker_lines(raw)
    else:
        lines = (_clean(line) for line in raw)
    count = 0
    for line in lines:
        out.write(line.rstrip(b"\r\n") + b"\n")
        count += 1
    return count


def _clean(line: bytes) -> bytes:
    """Valid UTF-8 without a byte-order mark; bad bytes become U+FFFD."""
    return line.removeprefix(BOM).decode("utf-8", "replace").encode("utf-8")


def _array_lines(raw: BinaryIO) -> Iterator[bytes]:
    # Limitation: the array is loaded whole; a streaming JSON parser would
    # remove the memory cost for multi-gigabyte exports.
    text = raw.read().removeprefix(BOM).decode("utf-8", "replace")
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise InputError(f"A JSON array input does not parse: {exc}.") from None
    for item in items if isinstance(items, list) else [items]:
        yield json.dumps(item, ensure_ascii=False).encode("utf-8")


def _cri_lines(raw: BinaryIO) -> Iterator[bytes]:
    pending: dict[bytes, list[bytes]] = {}
    for line in raw:
        match = _CRI.match(line.rstrip(b"\r\n"))
        if not match:
            yield _clean(line)
            continue
        stamp, stream, tag, message = match.groups()
        pending.setdefault(stream, []).append(message)
        if tag == b"F":
            yield _container_entry(b"".join(pending.pop(stream)), stamp, stream)
    for stream, parts in pending.items():
        yield _container_entry(b"".join(parts), b"", stream)


def _docker_lines(raw: BinaryIO) -> Iterator[bytes]:
    pending: dict[str, list[str]] = {}
    for line in raw:
        try:
            record = json.loads(_clean(line))
        except ValueError:
            yield _clean(line)
            continue
        if not isinstance(record, dict) or "log" not in record:
            yield json.dumps(record, ensure_ascii=False).encode("utf-8")
            continue
        stream = str(record.get("stream", "stdout"))
        pending.setdefault(stream, []).append(str(record["log"]))
        # Docker splits lines longer than 16 KiB; only the last part ends in \n.
        if str(record["log"]).endswith("\n"):
            message = "".join(pending.pop(stream)).rstrip("\n")
            yield _container_entry(
                message.encode("utf-8"),
                str(record.get("time", "")).encode(),
                stream.encode(),
            )


def _container_entry(message: bytes, stamp: bytes, stream: bytes) -> bytes:
    text = message.decode("utf-8", "replace")
    try:
        inner = json.loads(text) if text.lstrip().startswith("{") else None
    except ValueError:
        inner = None
    if isinstance(inner, dict):
        if stamp and not any(k in inner for k in _TIME_KEYS):
            inner["timestamp"] = stamp.decode("utf-8", "replace")
        return json.dumps(inner, ensure_ascii=False).encode("utf-8")
    entry = {
        "textPayload": text,
        "timestamp": stamp.decode("utf-8", "replace"),
        "labels": {"stream": stream.decode("utf-8", "replace")},
    }
    return json.dumps(entry, ensure_ascii=False).encode("utf-8")


def total_size(paths: Iterable[str]) -> int:
    return sum(os.path.getsize(p) for p in paths)
