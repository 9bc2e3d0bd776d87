"""Console sessions: a signed cookie naming the API token, and CSRF tokens.

A person signs in with an API token once; the console then keeps a cookie
``mgops_session`` holding the token's id, a random session id and an expiry,
signed with HMAC-SHA256 under the server secret (``MGOPS_SECRET`` or the one
kept in the store). The token is looked up on every request, so revoking it ends
every session at once. The API token itself never goes into the cookie.

Every form carries a CSRF token derived from the session id; a request that
changes something is refused without it. The cookie is ``HttpOnly`` and
``SameSite=Lax``, and ``/api/`` routes take the session only for reading: a
script or form elsewhere cannot drive the JSON API with a browser's cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from mgops.access import Principal
from mgops.store.models import ApiToken

COOKIE = "mgops_session"
LIFETIME_SECONDS = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class SessionData:
    token_id: int
    session_id: str
    expires: int


class SessionSigner:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"mgops-console-session|" + secret.encode()).digest()

    def _mac(self, message: bytes) -> str:
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def dump(self, token_id: int, *, now: float | None = None) -> str:
        expires = int((now or time.time()) + LIFETIME_SECONDS)
        body = {"t": token_id, "s": secrets.token_urlsafe(18), "e": expires}
        payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode()
        return f"{payload}.{self._mac(payload.encode())}"

    def load(self, cookie: str, *, now: float | None = None) -> SessionData | None:
        payload, _, mac = cookie.partition(".")
        if not mac or not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(payload.encode()))
            data = SessionData(int(body["t"]), str(body["s"]), int(body["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return data if data.expires > (now or time.time()) else None

    def csrf_token(self, session_id: str) -> str:
        return self._mac(b"csrf|" + session_id.encode())


def principal_for(session: Session, data: SessionData) -> Principal | None:
    token = session.get(ApiToken, data.token_id)
    if token is None or token.revoked_at is not None:
        return None
    return Principal(name=token.name, role=token.role, token_id=token.id)  # type: ignore[arg-type]


class SessionMiddleware:
    """Sets ``request.state.principal`` and ``.csrf`` from a valid session cookie."""

    def __init__(self, app: ASGIApp, signer: Callable[[], SessionSigner]) -> None:
        self.app = app
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            cookie = request.cookies.get(COOKIE)
            api_write = request.url.path.startswith("/api/") and (
                request.method not in SAFE_METHODS
            )
            if cookie and not api_write:
                _attach(request, self.signer(), cookie)
        await self.app(scope, receive, send)


def _attach(request: Request, signer: SessionSigner, cookie: str) -> None:
    data = signer.load(cookie)
    if data is None:
        return
    store = request.app.state.mgops.store
    with store.session() as session:
        who = principal_for(session, data)
    if who is not None:
        request.state.principal = who
        request.state.csrf = signer.csrf_token(data.session_id)
