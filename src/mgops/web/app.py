"""The FastAPI application: routers, error translation, request logging, metrics."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mgops import __version__
from mgops.clock import SYSTEM_CLOCK, Clock
from mgops.errors import MgopsError, StoreError
from mgops.policy.schema import Policy
from mgops.store.db import Store
from mgops.web.api import admin, alerts, incidents, intake, oncall, pages
from mgops.web.metrics import REGISTRY, REQUESTS
from mgops.web.state import AppState, RateLimiter

logger = logging.getLogger("mgops.http")


def create_app(
    store: Store,
    policy: Policy,
    *,
    clock: Clock = SYSTEM_CLOCK,
    events_per_minute: int = 120,
) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="mgops",
        version=__version__,
        description="The Media Gateway incident desk, on-call and alert intake.",
    )
    app.state.mgops = AppState(
        store=store, policy=policy, clock=clock, limiter=RateLimiter(events_per_minute)
    )
    for router in (
        incidents.router,
        alerts.router,
        admin.router,
        intake.router,
        pages.router,
        oncall.router,
    ):
        app.include_router(router)
    _install_errors(app)
    _install_system_routes(app)
    app.add_middleware(RequestLog)
    # Imported here: the console pulls in Jinja2 templates and static files.
    from mgops.web.console import install_console

    install_console(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # Deliveries already queued are committed before the process stops.
    state: AppState = app.state.mgops
    await asyncio.to_thread(state.intake.close)


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the OpenAPI document lists for ``path``."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        app.state, "allow_table", None
    )
    if table is None:
        table = []
        for template, operations in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            table.append(
                (re.compile(f"^{pattern}$"), sorted(m.upper() for m in operations))
            )
        # A literal path (``/pages/test``) wins over a template (``/pages/{id}``).
        table.sort(key=lambda row: row[0].pattern.count("[^/]+"))
        app.state.allow_table = table
    return next((methods for regex, methods in table if regex.match(path)), [])


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first matching route's method; list them all.
            headers["Allow"] = ", ".join(_allowed_methods(app, request.url.path))
        return JSONResponse(
            status_code=exc.status_code,
            headers=headers,
            content={"error": "http_error", "message": str(exc.detail)},
        )

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        # The driver's text names tables, statements and values: it goes to the
        # log, and the caller (perhaps an unauthenticated sender) gets a sentence.
        logger.error(
            "store error on %s %s: %s", request.method, request.url.path, exc.message
        )
        return JSONResponse(
            status_code=exc.http_status,
            content={
                "error": exc.code,
                "message": "The store could not take the change; the server's log "
                "has the details. Retry later.",
            },
        )

    @app.exception_handler(MgopsError)
    async def mgops_error(_request: Request, exc: MgopsError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content=exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())),
                "message": e.get("msg"),
            }
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid"}
        return JSONResponse(
            status_code=422,
            content={
                "error": "invalid_input",
                "message": f"{first['field']}: {first['message']}",
                "detail": {"errors": problems},
            },
        )


def _install_system_routes(app: FastAPI) -> None:
    @app.get("/health", tags=["system"])
    def health(request: Request) -> dict[str, str]:
        state: AppState = request.app.state.mgops
        with state.store.session() as session:
            session.execute(__import__("sqlalchemy").text("select 1"))
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["system"], response_class=PlainTextResponse)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


# Alertmanager payloads are a few KB per alert; 4 MiB is thousands of alerts.
MAX_WEBHOOK_BYTES = 4 * 1024 * 1024


class RequestLog:
    """Pure ASGI middleware: size cap on webhooks, request id, metrics, one log line.

    Written against ASGI rather than as an ``@app.middleware`` function: that form
    runs every request through an extra task and stream, which costs the intake
    about a millisecond a request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        path: str = scope["path"]
        length = headers.get("content-length", "")
        if (
            path.startswith("/api/v1/integrations/")
            and length.isdigit()
            and int(length) > MAX_WEBHOOK_BYTES
        ):
            too_large = JSONResponse(
                status_code=413,
                content={
                    "error": "too_large",
                    "message": f"The payload is larger than {MAX_WEBHOOK_BYTES} bytes.",
                },
            )
            await too_large(scope, receive, send)
            return
        request_id = headers.get("x-request-id") or uuid.uuid4().hex[:16]
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _log_request(scope, status, request_id, time.perf_counter() - started)


def _log_request(scope: Scope, status: int, request_id: str, elapsed: float) -> None:
    method: str = scope["method"]
    template = getattr(scope.get("route"), "path", "unmatched")
    REQUESTS.labels(method, template, str(status)).observe(elapsed)
    logger.log(
        logging.ERROR if status >= 500 else logging.INFO,
        "%s %s %s",
        method,
        template,
        status,
        extra={
            "requestId": request_id,
            "method": method,
            "path": scope["path"],
            "status": status,
            "latencyMs": round(elapsed * 1000, 2),
        },
    )
