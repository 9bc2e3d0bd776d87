"""API tokens and integration keys: secrets shown once, stored as SHA-256 hashes.

Tokens carry a role: ``viewer`` reads, ``responder`` also changes incidents,
pages and alerts, ``admin`` also manages tokens and integrations. Integration
keys authenticate intake senders (Alertmanager in the URL, Events v2 as the
``routing_key``); they are 32 hex characters because Events v2 senders check
that length.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mgops.errors import Conflict, Forbidden, InputError, NotFound, Unauthorized
from mgops.store.models import ApiToken, Integration

Role = Literal["viewer", "responder", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "responder", "admin")
KINDS = ("alertmanager", "events-v2")
TOKEN_PREFIX = "mgops_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling the API: the token's name and role."""

    name: str
    role: Role
    token_id: int | None = None

    def require(self, role: Role) -> None:
        if ROLES.index(self.role) < ROLES.index(role):
            raise Forbidden(
                f"This needs the {role} role; the token {self.name!r} is a {self.role}."
            )


def create_token(
    session: Session, *, name: str, role: str, now: datetime
) -> tuple[ApiToken, str]:
    if role not in ROLES:
        raise InputError(f"Role {role!r} is not one of {', '.join(ROLES)}.")
    if not name.strip():
        raise InputError("A token needs a name.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name.strip(),
        role=role,
        token_hash=digest(secret),
        prefix=secret[:12],
        created_at=now,
    )
    session.add(token)
    session.flush()
    return token, secret


def authenticate(session: Session, secret: str | None) -> Principal:
    if not secret:
        raise Unauthorized("An API token is required (Authorization: Bearer …).")
    token = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest(secret))
    )
    if token is None or token.revoked_at is not None:
        raise Unauthorized("The API token is unknown or revoked.")
    return Principal(name=token.name, role=token.role, token_id=token.id)  # type: ignore[arg-type]


def revoke_token(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"Token {token_id} does not exist.")
    if token.role == "admin" and token.revoked_at is None:
        admins = session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.role == "admin", ApiToken.revoked_at.is_(None))
        )
        if admins == 1:
            raise Conflict(
                "This is the last admin token; create another admin "
                "token first, or nobody could manage access afterwards."
            )
    token.revoked_at = token.revoked_at or now
    return token


def count_tokens(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ApiToken)) or 0)


def create_integration(
    session: Session, *, name: str, kind: str, now: datetime
) -> tuple[Integration, str]:
    if kind not in KINDS:
        raise InputError(f"Integration kind {kind!r} is not one of {', '.join(KINDS)}.")
    key = secrets.token_hex(16)
    integration = Integration(
        name=name.strip() or kind,
        kind=kind,
        key_hash=digest(key),
        prefix=key[:6],
        created_at=now,
    )
    session.add(integration)
    session.flush()
    return integration, key


def find_integration(session: Session, key: str, kind: str) -> Integration | None:
    # A session that takes a batch of deliveries looks each key up once.
    known: dict[str, Integration] = session.info.setdefault("integrations", {})
    hashed = digest(key)
    row = known.get(hashed)
    if row is None:
        row = session.scalar(select(Integration).where(Integration.key_hash == hashed))
        if row is not None:
            known[hashed] = row
    if row is None or row.revoked_at is not None or row.kind != kind:
        return None
    return row


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
