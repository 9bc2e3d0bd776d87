"""The web console at ``/`` and the public status page at ``/status``.

Server-rendered Jinja2 pages with a little hand-written JavaScript for the live
parts (SLA clocks, ticking in place, copy buttons, the log chart). Every page calls
the same core functions as the REST API and the CLI.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from mgops.errors import MgopsError
from mgops.notify.links import server_secret
from mgops.web.console import incidents, oncall, ops, signin, status
from mgops.web.console.base import HERE, SignInRequired, render
from mgops.web.console.session import SessionMiddleware, SessionSigner

# Paths that belong to the JSON API or machines; everything else is the console.
_MACHINE_PREFIXES = ("/api/", "/v2/", "/ack/", "/health", "/metrics", "/status.json")


def install_console(
    app: FastAPI,
    *,
    log_runner: Callable[..., Any] | None = None,
    log_sources: list[str] | None = None,
) -> None:
    store = app.state.mgops.store
    signer = functools.cache(lambda: SessionSigner(server_secret(store)))
    app.state.console_signer = signer
    app.state.log_runner = log_runner or ops.log_runner()
    env_sources = os.environ.get("MGOPS_LOG_SOURCES", "")
    app.state.log_sources = log_sources or [
        s for s in env_sources.split(os.pathsep) if s
    ]

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (
        signin.router,
        status.router,
        incidents.router,
        oncall.router,
        ops.router,
    ):
        app.include_router(router)
    app.add_middleware(SessionMiddleware, signer=signer)
    _install_errors(app)


def _is_console(request: Request) -> bool:
    return not request.url.path.startswith(_MACHINE_PREFIXES)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(_request: Request, exc: SignInRequired) -> Response:
        target = "/login?next=" + quote(exc.next_path, safe="/")
        return RedirectResponse(target, status_code=303)

    api_handler = app.exception_handlers[MgopsError]

    async def console_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, MgopsError) or not _is_console(request):
            answer = api_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        if "application/json" in request.headers.get("accept", ""):
            body = {"ok": False, "message": exc.message}
            return JSONResponse(body, status_code=exc.http_status)
        return render(
            request, "error.html", {"error": exc}, status_code=exc.http_status
        )

    app.exception_handlers[MgopsError] = console_error
