"""``mgops db upgrade | current``."""

from __future__ import annotations

import typer

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, console, emit

app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Apply every pending migration to the store."""
    from mgops.store.db import current_revision, make_engine, resolve_database_url
    from mgops.store.db import upgrade as upgrade_schema

    url = resolve_database_url(app_context(ctx).db)
    engine = make_engine(url)
    before = current_revision(engine)
    upgrade_schema(engine)
    after = current_revision(engine)
    shown = engine.url.render_as_string(hide_password=True)
    engine.dispose()
    result = {"store": shown, "from": before, "to": after}
    change = "already at" if before == after else f"{before or 'empty'} →"
    emit(result, as_json, lambda: console.print(f"{shown}: {change} {after}"))


@app.command("current")
def current(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Show the store's schema revision and the newest one mgops knows."""
    from mgops.store.db import (
        current_revision,
        head_revision,
        make_engine,
        resolve_database_url,
    )

    engine = make_engine(resolve_database_url(app_context(ctx).db))
    result = {"current": current_revision(engine), "head": head_revision(engine)}
    engine.dispose()
    emit(
        result,
        as_json,
        lambda: console.print(
            f"current {result['current'] or '(empty)'}, head {result['head']}"
        ),
    )
