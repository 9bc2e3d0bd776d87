"""The query parser, built once per grammar and kept in the user's cache.

Building lark's LALR tables from ``GRAMMAR`` takes about 60 ms, paid by every
``mgops logs`` run; loading the saved tables takes about 5 ms. The file is named
by a hash of the grammar, the lark version and the Python version, so a change
to any of them builds and saves afresh.

lark saves its tables with pickle, and loading a pickle runs code, so the file
lives in the user's own cache directory (``$XDG_CACHE_HOME/mgops`` or
``~/.cache/mgops``, never a shared temporary directory) and is only loaded when
the user owns it and nobody else may write it. Anything wrong with the file
(missing, damaged, foreign) means the tables are built again; a directory that
cannot be written only means they are not saved.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import lark

from mgops.logs.grammar import GRAMMAR


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mgops"


def load_parser(cache_dir: Path | None) -> lark.Lark:
    """The query parser: from ``cache_dir`` when a sound copy is there."""
    path = cache_dir / f"query-parser-{_key()}.lark" if cache_dir else None
    if path is not None and _trusted(path):
        try:
            with path.open("rb") as handle:
                return lark.Lark.load(handle)
        except Exception:  # any damage means: build it again
            pass
    parser = lark.Lark(GRAMMAR, parser="lalr", propagate_positions=True)
    if path is not None:
        _save(parser, path)
    return parser


def _key() -> str:
    text = f"{GRAMMAR}\0{lark.__version__}\0{sys.version_info[:2]}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _trusted(path: Path) -> bool:
    try:
        status = path.stat()
    except OSError:
        return False
    owner_only = not status.st_mode & 0o022
    return owner_only and (not hasattr(os, "getuid") or status.st_uid == os.getuid())


def _save(parser: lark.Lark, path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Write beside the target, then rename: a concurrent run reads either
        # no file or a whole one.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".query-parser-")
        try:
            with os.fdopen(fd, "wb") as handle:
                parser.save(handle)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        return  # a read-only home only costs the build next time
