"""The ``mgops`` entry point: global options, command groups, error handling.

Each command group lives in its own module, listed in ``COMMANDS`` and imported
only when needed: ``mgops logs …`` loads the logs group alone, never the store,
the web app or the runbook clients, so it starts in a fraction of the time.
Errors that mgops raises on purpose are printed as sentences and mapped to exit
codes (``mgops.exitcodes``); anything else is a bug and says so.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.markup import escape

from mgops import __version__, exitcodes
from mgops.cli.context import AppContext
from mgops.cli.output import err_console
from mgops.clock import SYSTEM_CLOCK
from mgops.errors import MgopsError, QueryError

# Name → (module, attribute, group or command), in the order --help lists them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("mgops.cli.serve", "serve", "command"),
    "incident": ("mgops.cli.incident", "app", "group"),
    "alerts": ("mgops.cli.alerts", "app", "group"),
    "audit": ("mgops.cli.alerts", "audit", "command"),
    "token": ("mgops.cli.access", "token_app", "group"),
    "integration": ("mgops.cli.access", "integration_app", "group"),
    "policy": ("mgops.cli.policy", "app", "group"),
    "db": ("mgops.cli.db", "app", "group"),
    "oncall": ("mgops.cli.oncall", "app", "group"),
    "page": ("mgops.cli.page", "app", "group"),
    "worker": ("mgops.cli.page", "worker", "command"),
    "person": ("mgops.cli.person", "app", "group"),
    "service": ("mgops.cli.service", "app", "group"),
    "redis": ("mgops.cli.redis", "app", "group"),
    "pg": ("mgops.cli.pg", "app", "group"),
    "qdrant": ("mgops.cli.qdrant", "app", "group"),
    "logs": ("mgops.cli.logs", "app", "group"),
}
# Global options that take a value, so the word after them is no command name.
_VALUE_OPTIONS = {"--db", "--policy", "--server", "--token"}


def build_app(names: Sequence[str] | None = None) -> typer.Typer:
    """The CLI with the named commands (all of them when ``names`` is None)."""
    app = typer.Typer(
        name="mgops",
        help="The Media Gateway operations runbook as software.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(main)
    for name, (module, attribute, kind) in COMMANDS.items():
        if names is not None and name not in names:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if kind == "group":
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def command_name(args: Sequence[str]) -> str | None:
    """The command word in ``args``, skipping the global options before it."""
    words = iter(args)
    for word in words:
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def __getattr__(name: str) -> Any:
    # ``mgops.cli.main.app``: the whole CLI, built when first asked for.
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mgops {__version__}")
        raise typer.Exit()


def main(
    ctx: typer.Context,
    db: str = typer.Option(
        None,
        "--db",
        envvar="MGOPS_DATABASE_URL",
        help="Store: a SQLite file path or a database URL.",
    ),
    policy: str = typer.Option(
        None, "--policy", envvar="MGOPS_POLICY", help="Policy file (default: built-in)."
    ),
    server: str = typer.Option(
        None,
        "--server",
        envvar="MGOPS_SERVER",
        help="Use an mgops server's API instead of the local store.",
    ),
    token: str = typer.Option(
        None, "--token", envvar="MGOPS_TOKEN", help="API token for --server."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    # A caller (a test's CliRunner) may hand in a context with its own clock.
    clock = ctx.obj.clock if isinstance(ctx.obj, AppContext) else SYSTEM_CLOCK
    ctx.obj = AppContext(
        db=db, policy_path=policy, server=server, token=token, clock=clock
    )


def run_cli(args: list[str] | None = None) -> int:
    """Run the app on ``args`` and return the exit code; errors become sentences."""
    given = sys.argv[1:] if args is None else args
    command = command_name(given)
    app = build_app([command] if command in COMMANDS else None)
    try:
        app(args=args, standalone_mode=False)
    except MgopsError as exc:
        text = exc.pointer() if isinstance(exc, QueryError) else exc.message
        err_console.print(f"[red]error:[/red] {escape(text)}", highlight=False)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.TyperException as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        return exitcodes.USAGE
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("[yellow]interrupted[/yellow]")
        return exitcodes.INTERRUPTED
    except BrokenPipeError:
        return exitcodes.OK
    except Exception as exc:
        if not _validation_error(exc):
            raise
        first = exc.errors()[0]  # type: ignore[attr-defined]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        err_console.print(
            f"[red]error:[/red] {escape(field)}: {escape(str(first['msg']))}",
            highlight=False,
        )
        return exitcodes.USAGE
    return exitcodes.OK


def _validation_error(exc: Exception) -> bool:
    """A pydantic ValidationError; pydantic is only loaded by commands using it."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


def run() -> None:
    """Console-script entry."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    sys.exit(run_cli())
