"""Log investigation: the Cloud Logging query language with pipe stages, on DuckDB.

The seam every face uses::

    from mgops.logs import run_query, FileSource, LinesSource

    result = run_query(
        "severity>=ERROR | groupBy path | count",
        [FileSource(Path("app.jsonl"))],
        since=None, until=None, strict=False, limit=None,
    )
    result.columns, result.rows, result.entries, result.chart, result.notes

* ``run_query`` (``engine.py``) parses, plans and runs one query and returns a
  ``QueryResult``; the CLI renders it, the web console will too.
* A ``LogSource`` (``sources.py``) is anything that hands over bytes:
  ``FileSource``, ``StreamSource`` (stdin) or ``LinesSource`` (any iterable of
  lines). A Kubernetes pod-log reader plugs in by yielding its lines through a
  ``LinesSource`` (or by implementing ``local_path()``/``open()`` itself); for
  ``--follow`` it hands ``follow.follow`` a ``Tail`` over its stream.

Inside: ``grammar.py`` + ``parse.py`` (text → ``ast.Query``, ``QueryError`` with
column and code), ``fields.py`` (where a field lives in a line),
``compile.py`` (filter → SQL predicates), ``plan.py`` (whole statement, text or
struct mode, literal prefilter), ``render.py``, ``saved.py``, ``follow.py``.
"""

from mgops.logs.engine import Entry, QueryResult, explain, run_query
from mgops.logs.parse import parse_query
from mgops.logs.sources import (
    FileSource,
    LinesSource,
    LogSource,
    StreamSource,
    sources_from_args,
)

__all__ = [
    "Entry",
    "FileSource",
    "LinesSource",
    "LogSource",
    "QueryResult",
    "StreamSource",
    "explain",
    "parse_query",
    "run_query",
    "sources_from_args",
]
