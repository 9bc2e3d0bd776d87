"""The FastAPI application: routers, error translation, request logging, metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from mgops import __version__
from mgops.clock import SYSTEM_CLOCK, Clock
from mgops.errors import MgopsError
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
    app.middleware("http")(_request_log)
    # Imported here: the console pulls in Jinja2 templates and static files.
    from mgops.web.console import install_console

    install_console(app)
    return app


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


async def _request_log(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    length = request.headers.get("content-length", "")
    if (
        request.url.path.startswith("/api/v1/integrations/")
        and length.isdigit()
        and int(length) > MAX_WEBHOOK_BYTES
    ):
        return JSONResponse(
            status_code=413,
            content={
                "error": "too_large",
                "message": f"The payload is larger than {MAX_WEBHOOK_BYTES} bytes.",
            },
        )
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
    response = await call_next(request)
    elapsed = time.perf_counter() - started
    route = request.scope.get("route")
    template = getattr(route, "path", "unmatched")
    REQUESTS.labels(request.method, template, str(response.status_code)).observe(
        elapsed
    )
    response.headers["x-request-id"] = request_id
    level = logging.ERROR if response.status_code >= 500 else logging.INFO
    logger.log(
        level,
        "%s %s %s",
        request.method,
        template,
        response.status_code,
        extra={
            "requestId": request_id,
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "latencyMs": round(elapsed * 1000, 2),
        },
    )
    return response
