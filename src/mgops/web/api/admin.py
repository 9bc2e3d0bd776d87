"""``/api/v1/tokens`` and ``/api/v1/integrations``: admin-only, secrets shown once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from mgops.access import create_integration, create_token, revoke_token
from mgops.store.models import ApiToken, Integration
from mgops.web.api.errors import ERROR_RESPONSES
from mgops.web.deps import Admin, State

router = APIRouter(prefix="/api/v1", tags=["admin"], responses=ERROR_RESPONSES)


class TokenRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Literal["viewer", "responder", "admin"]


class TokenView(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenView):
    token: str = Field(description="The secret; shown only in this response.")


class IntegrationRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["alertmanager", "events-v2"]


class IntegrationView(BaseModel):
    id: int
    name: str
    kind: str
    prefix: str
    created_at: datetime


class IntegrationCreated(IntegrationView):
    key: str = Field(description="The integration key; shown only in this response.")
    url: str = Field(description="Where senders post (relative to the server).")


def token_view(row: ApiToken) -> TokenView:
    return TokenView(
        id=row.id,
        name=row.name,
        role=row.role,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def integration_path(kind: str, key: str) -> str:
    if kind == "alertmanager":
        return f"/api/v1/integrations/alertmanager/{key}"
    return "/v2/enqueue"


@router.post("/tokens", status_code=201, response_model=TokenCreated)
def new_token(body: TokenRequest, state: State, who: Admin) -> TokenCreated:
    with state.store.session() as session:
        row, secret = create_token(
            session, name=body.name, role=body.role, now=state.clock.now()
        )
        return TokenCreated(**token_view(row).model_dump(), token=secret)


@router.get("/tokens", response_model=list[TokenView])
def list_tokens(state: State, who: Admin) -> list[TokenView]:
    with state.store.session() as session:
        return [
            token_view(t)
            for t in session.scalars(select(ApiToken).order_by(ApiToken.id))
        ]


@router.delete("/tokens/{token_id}", response_model=TokenView)
def delete_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], state: State, who: Admin
) -> TokenView:
    with state.store.session() as session:
        return token_view(revoke_token(session, token_id, now=state.clock.now()))


@router.post("/integrations", status_code=201, response_model=IntegrationCreated)
def new_integration(
    body: IntegrationRequest, state: State, who: Admin
) -> IntegrationCreated:
    with state.store.session() as session:
        row, key = create_integration(
            session, name=body.name, kind=body.kind, now=state.clock.now()
        )
        return IntegrationCreated(
            id=row.id,
            name=row.name,
            kind=row.kind,
            prefix=row.prefix,
            created_at=row.created_at,
            key=key,
            url=integration_path(row.kind, key),
        )


@router.get("/integrations", response_model=list[IntegrationView])
def list_integrations(state: State, who: Admin) -> list[IntegrationView]:
    with state.store.session() as session:
        rows = session.scalars(
            select(Integration).where(Integration.revoked_at.is_(None))
        )
        return [
            IntegrationView(
                id=r.id,
                name=r.name,
                kind=r.kind,
                prefix=r.prefix,
                created_at=r.created_at,
            )
            for r in rows
        ]
