"""Rendering for the terminal: Rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from mgops.errors import ConfirmationRequired

# Sentences are never hard-wrapped (scripts grep them); tables still fit the width.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def to_jsonable(value: Any) -> Any:
    if _pydantic_model(value):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value


def _pydantic_model(value: Any) -> bool:
    # pydantic is loaded by the commands that use it; if it is not loaded,
    # no value can be one of its models.
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))
    sys.stdout.write("\n")


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str = "Nothing to show.",
) -> None:
    rows = list(rows)
    if not rows:
        console.print(f"[dim]{empty}[/dim]")
        return
    grid = Table(title=title, title_justify="left", header_style="bold")
    for index, column in enumerate(columns):
        # Short values (ids, handles, states) are things people type or scan:
        # keep them whole where the width allows; long free text wraps instead.
        longest = max(
            (len(str(row[index])) for row in rows if index < len(row)), default=0
        )
        grid.add_column(
            column, overflow="fold", min_width=longest if longest <= 24 else None
        )
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(grid)


def emit(value: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``value`` as JSON when asked, otherwise call ``render``."""
    if as_json:
        print_json(value)
    else:
        render()


def confirm_typed(expected: str, *, what: str, yes: bool) -> None:
    """Ask the person to type ``expected``; ``--yes`` or a matching answer passes.

    Without a terminal and without ``--yes`` the action is refused, never assumed.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationRequired(
            f"{what} needs confirmation: run it again with --yes, "
            f"or from a terminal and type {expected!r}."
        )
    err_console.print(f"[bold red]{what}[/bold red]")
    answer = typer.prompt(
        f"Type {expected!r} to go ahead", default="", show_default=False
    )
    if answer.strip() != expected:
        raise ConfirmationRequired(
            f"Confirmation did not match {expected!r}; nothing was done."
        )
