"""What every console page shares: templates, the signed-in person, CSRF, flashes.

Pages render Jinja2 templates from ``templates/``; a change is a form POST that
redirects back (303) with a one-time message, or answers JSON when the page's
script sent it with ``Accept: application/json``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, unquote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from mgops.access import Principal, same_secret
from mgops.errors import Forbidden, MgopsError
from mgops.web.state import AppState

HERE = Path(__file__).parent
FLASH = "mgops_flash"
templates = Jinja2Templates(directory=str(HERE / "templates"))
T = TypeVar("T")


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


templates.env.filters["when"] = _when
templates.env.filters["iso"] = _iso


class SignInRequired(Exception):
    """No valid session: the console sends the browser to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def console_state(request: Request) -> AppState:
    state: AppState = request.app.state.mgops
    return state


def signed_in(request: Request) -> Principal:
    who = getattr(request.state, "principal", None)
    if not isinstance(who, Principal):
        raise SignInRequired(request.url.path)
    return who


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's."""
    form = await request.form()
    expected = getattr(request.state, "csrf", None)
    sent = form.get("csrf") or request.headers.get("x-csrf-token")
    if not expected or not isinstance(sent, str) or not same_secret(sent, expected):
        raise Forbidden(
            "The form's security token is missing or stale; reload the page and "
            "try again."
        )
    return form


def responder(who: Annotated[Principal, Depends(signed_in)]) -> Principal:
    who.require("responder")
    return who


ConsoleState = Annotated[AppState, Depends(console_state)]
User = Annotated[Principal, Depends(signed_in)]
Writer = Annotated[Principal, Depends(responder)]
Form = Annotated[FormData, Depends(checked_form)]


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    who = getattr(request.state, "principal", None)
    flash = request.cookies.get(FLASH, "")
    kind, _, text = flash.partition(":")
    context = {
        "who": who,
        "can_write": isinstance(who, Principal) and who.role != "viewer",
        "csrf": getattr(request.state, "csrf", ""),
        "flash": {"kind": kind, "text": unquote(text)} if text else None,
        "path": request.url.path,
        "server_now": _iso(request.app.state.mgops.clock.now()),
        **context,
    }
    response = templates.TemplateResponse(
        request, name, context, status_code=status_code
    )
    if flash:
        response.delete_cookie(FLASH, path="/")
    return response


def back(request: Request, to: str, message: str, *, kind: str = "ok") -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": kind == "ok", "message": message})
    response = RedirectResponse(to, status_code=303)
    # Cookie values cannot hold every character; quote and cap the sentence.
    response.set_cookie(
        FLASH,
        f"{kind}:{quote(message[:300], safe='')}",
        path="/",
        httponly=True,
        samesite="lax",
        max_age=60,
    )
    return response


def act(request: Request, to: str, done: str, change: Callable[[], T]) -> Response:
    """Run one change; come back to ``to`` saying ``done`` or what went wrong."""
    try:
        change()
    except MgopsError as exc:
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(
                {"ok": False, "message": str(exc)}, status_code=exc.http_status
            )
        return back(request, to, str(exc), kind="error")
    return back(request, to, done)


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
