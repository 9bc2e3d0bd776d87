"""Run one mgops logs query the way the CLI does, minus the Typer start-up.

    python bench/logs/mgops_query.py QUERY FILE

It calls the same core function (``mgops.logs.run_query``) and writes CSV with
the same renderer, so the benchmark measures the engine, not the import time of
unrelated command groups (measured separately as "CLI start-up").
"""

from __future__ import annotations

import sys
from pathlib import Path

from mgops.logs import FileSource, run_query
from mgops.logs.render import to_csv


def main() -> None:
    query, path = sys.argv[1], Path(sys.argv[2])
    result = run_query(query, [FileSource(path)])
    sys.stdout.write(to_csv(result))


if __name__ == "__main__":
    main()
