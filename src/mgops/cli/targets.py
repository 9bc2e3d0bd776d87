"""Options and helpers shared by the data-store groups (``pg``, ``redis``, ``qdrant``).

A connection comes from ``--url``, then the environment (``MGOPS_POSTGRES_URL``,
``MGOPS_REDIS_URL``, ``MGOPS_QDRANT_URL``), then ``--target NAME`` in the config
file. Progress bars go to stderr and only when it is a terminal, so ``--json``
output stays clean for scripts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from mgops.cli.output import err_console
from mgops.config import require_setting

UrlOption = typer.Option(
    None, "--url", help="Connection URL (else env, else --target)."
)
TargetOption = typer.Option(
    None, "--target", help="A named target from the mgops config file."
)
IncidentOption = typer.Option(
    None, "--incident", help="Attach the action to this incident's timeline."
)
YesOption = typer.Option(False, "--yes", help="Skip the typed confirmation.")


def connection_url(key: str, url: str | None, target: str | None) -> str:
    """``--url``, then the environment, then the named target; an error if none."""
    return require_setting(key, url, target, flag="--url")


@contextmanager
def progress_bar(
    description: str, total: int | None
) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr; yields ``advance(n)``."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int) -> None:
            done = bar.tasks[0].completed + n
            if total is not None and done > total:
                n = max(0, total - int(bar.tasks[0].completed))
            bar.advance(task, n)

        yield advance
