"""Sign in with an API token, sign out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mgops.access import authenticate
from mgops.errors import MgopsError
from mgops.web.console.base import ConsoleState, checked_form, render
from mgops.web.console.session import COOKIE, LIFETIME_SECONDS, SessionSigner

router = APIRouter(include_in_schema=False)
LOGIN_NONCE = "mgops_login"


def _safe_next(path: str) -> str:
    # Only a path on this server: never an open redirect to another host.
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _login_form(
    request: Request, next_path: str, error: str | None, status_code: int = 200
) -> Response:
    # Before a session exists the form is guarded by a double-submitted value:
    # another site can neither read this cookie nor set it.
    nonce = secrets.token_urlsafe(18)
    context = {"next": _safe_next(next_path), "error": error, "csrf": nonce}
    response = render(request, "login.html", context, status_code=status_code)
    response.set_cookie(
        LOGIN_NONCE, nonce, httponly=True, samesite="strict", path="/login"
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return _login_form(request, next, None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    state: ConsoleState,
    token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_NONCE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        message = "The sign-in form expired; please try again."
        return _login_form(request, next, message, status_code=403)
    try:
        with state.store.session() as session:
            who = authenticate(session, token.strip())
    except MgopsError:
        message = "That token is unknown or revoked."
        return _login_form(request, next, message, status_code=401)
    signer: SessionSigner = request.app.state.console_signer()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        signer.dump(who.token_id or 0),
        max_age=LIFETIME_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_NONCE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await checked_form(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
