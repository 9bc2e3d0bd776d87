"""The ``mgops`` entry point: global options, command groups, error handling.

Each command group lives in its own module and is registered below. Errors that
mgops raises on purpose are printed as sentences and mapped to exit codes
(``mgops.exitcodes``); anything else is a bug and says so.
"""

from __future__ import annotations

import logging
import sys

import typer
from pydantic import ValidationError
from rich.markup import escape

from mgops import __version__, exitcodes
from mgops.cli import access as access_cli
from mgops.cli import alerts as alerts_cli
from mgops.cli import db as db_cli
from mgops.cli import incident as incident_cli
from mgops.cli import logs as logs_cli
from mgops.cli import oncall as oncall_cli
from mgops.cli import page as page_cli
from mgops.cli import person as person_cli
from mgops.cli import pg as pg_cli
from mgops.cli import policy as policy_cli
from mgops.cli import qdrant as qdrant_cli
from mgops.cli import redis as redis_cli
from mgops.cli import service as service_cli
from mgops.cli.context import AppContext
from mgops.cli.output import err_console
from mgops.cli.serve import serve
from mgops.clock import SYSTEM_CLOCK
from mgops.errors import MgopsError, QueryError

app = typer.Typer(
    name="mgops",
    help="The Media Gateway operations runbook as software.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("serve")(serve)
app.add_typer(incident_cli.app, name="incident")
app.add_typer(alerts_cli.app, name="alerts")
app.command("audit")(alerts_cli.audit)
app.add_typer(access_cli.token_app, name="token")
app.add_typer(access_cli.integration_app, name="integration")
app.add_typer(policy_cli.app, name="policy")
app.add_typer(db_cli.app, name="db")
app.add_typer(oncall_cli.app, name="oncall")
app.add_typer(page_cli.app, name="page")
app.command("worker")(page_cli.worker)
app.add_typer(person_cli.app, name="person")
app.add_typer(service_cli.app, name="service")
app.add_typer(redis_cli.app, name="redis")
app.add_typer(pg_cli.app, name="pg")
app.add_typer(qdrant_cli.app, name="qdrant")
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
    # A caller (a test's CliRunner) may hand in a context with its own clock.
    clock = ctx.obj.clock if isinstance(ctx.obj, AppContext) else SYSTEM_CLOCK
    ctx.obj = AppContext(
        db=db, policy_path=policy, server=server, token=token, clock=clock
    )


def run_cli(args: list[str] | None = None) -> int:
    """Run the app on ``args`` and return the exit code; errors become sentences."""
    try:
        app(args=args, standalone_mode=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        err_console.print(
            f"[red]error:[/red] {escape(field)}: {escape(str(first['msg']))}",
            highlight=False,
        )
        return exitcodes.USAGE
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
    return exitcodes.OK


def run() -> None:
    """Console-script entry."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    sys.exit(run_cli())
