"""``mgops serve``: the API, intake endpoints and (later) console on one port."""

from __future__ import annotations

import os
import threading

import typer

from mgops.cli.context import app_context
from mgops.cli.output import err_console


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", envvar="MGOPS_HOST"),
    port: int = typer.Option(8080, "--port", envvar="MGOPS_PORT"),
    log_level: str = typer.Option("info", "--log-level", envvar="MGOPS_LOG_LEVEL"),
    run_worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Run the timer and delivery loop here."
    ),
    events_per_minute: int = typer.Option(
        120,
        "--events-per-minute",
        envvar="MGOPS_EVENTS_PER_MINUTE",
        help="Events v2 rate limit per routing key (0: none).",
    ),
) -> None:
    """Start the server: REST API, OpenAPI at /docs, /health, /metrics, intake."""
    import uvicorn

    from mgops import jsonlog
    from mgops.access import count_tokens, create_token
    from mgops.web.app import create_app

    app_ctx = app_context(ctx)
    _check_port_free(host, port)
    jsonlog.configure(log_level)
    store, policy = app_ctx.store, app_ctx.policy
    url = f"http://{host}:{port}"
    with store.session() as session:
        if count_tokens(session) == 0:
            _, secret = create_token(
                session, name="admin", role="admin", now=app_ctx.clock.now()
            )
            err_console.print(
                f"\n[bold]mgops is ready at {url}[/bold]\n"
                f"First start: an admin token was created. It is shown only once:\n\n"
                f"    export MGOPS_SERVER={url}\n"
                f"    export MGOPS_TOKEN={secret}\n",
                highlight=False,
            )
    shown = store.engine.url.render_as_string(hide_password=True)
    err_console.print(
        f"store: {shown}  policy: {policy.organisation}  pid {os.getpid()}",
        highlight=False,
    )
    app = create_app(
        store, policy, clock=app_ctx.clock, events_per_minute=events_per_minute
    )
    stop = threading.Event()
    if run_worker:
        from mgops.worker import make_worker

        runner = make_worker(store, policy, app_ctx.clock, public_url=url)
        threading.Thread(
            target=runner.run,
            args=(stop, 1.0, app.state.mgops.wake),
            name="mgops-worker",
            daemon=True,
        ).start()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            log_level=log_level,
            access_log=False,
        )
    finally:
        stop.set()


def _check_port_free(host: str, port: int) -> None:
    """Fail with a sentence, before touching the store, when the port is taken."""
    import socket

    from mgops.errors import InputError

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InputError(
                f"Cannot listen on {host}:{port}: {exc.strerror}. Another server may "
                "be running there; pass --port or stop it."
            ) from None
