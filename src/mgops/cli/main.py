"""The ``mgops`` entry point: global options, command groups, error handling.

Each command group lives in its own module and is registered below. Errors that
mgops raises on purpose are printed as sentences and mapped to exit codes
(``mgops.exitcodes``); anything else is a bug and says so.
"""

from __future__ import annotations

import logging
import sys

import typer
from click.exceptions import ClickException
from click.exceptions import Exit as ClickExit

from mgops import __version__, exitcodes
from mgops.cli import db as db_cli
from mgops.cli import logs as logs_cli
from mgops.cli import policy as policy_cli
from mgops.cli.context import AppContext
from mgops.cli.output import err_console
from mgops.errors import MgopsError, QueryError

app = typer.Typer(
    name="mgops",
    help="The Media Gateway operations runbook as software.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(policy_cli.app, name="policy")
app.add_typer(db_cli.app, name="db")
app.add_typer(logs_cli.app, name="logs")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mgops {__version__}")
        raise typer.Exit()


@app.callback()
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
    ctx.obj = AppContext(db=db, policy_path=policy, server=server, token=token)


def run() -> None:
    """Console-script entry: run the app and turn errors into exit codes."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        app(standalone_mode=False)
    except MgopsError as exc:
        text = exc.pointer() if isinstance(exc, QueryError) else exc.message
        err_console.print(f"[red]error:[/red] {text}", highlight=False, markup=True)
        sys.exit(exc.exit_code)
    except ClickExit as exc:
        sys.exit(exc.exit_code)
    except ClickException as exc:
        exc.show()
        sys.exit(exitcodes.USAGE)
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("[yellow]interrupted[/yellow]")
        sys.exit(exitcodes.INTERRUPTED)
    except BrokenPipeError:
        sys.exit(exitcodes.OK)
    sys.exit(exitcodes.OK)
