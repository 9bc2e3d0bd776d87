"""FastAPI dependencies: the app state, the caller, a desk acting as the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mgops.access import Principal, authenticate
from mgops.incidents.desk import LocalDesk
from mgops.web.state import AppState


async def app_state(request: Request) -> AppState:
    # async: FastAPI runs a plain function dependency on the thread pool.
    state: AppState = request.app.state.mgops
    return state


def principal(
    request: Request, state: Annotated[AppState, Depends(app_state)]
) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    token = secret.strip() if scheme.lower() == "bearer" else None
    session_principal = getattr(request.state, "principal", None)
    if token is None and isinstance(session_principal, Principal):
        return session_principal
    with state.store.session() as session:
        return authenticate(session, token)


def viewer(who: Annotated[Principal, Depends(principal)]) -> Principal:
    return who


def responder(who: Annotated[Principal, Depends(principal)]) -> Principal:
    who.require("responder")
    return who


def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    who.require("admin")
    return who


def desk_for(state: AppState, who: Principal) -> LocalDesk:
    return LocalDesk(state.store, state.policy, state.clock, who.name)


State = Annotated[AppState, Depends(app_state)]
Viewer = Annotated[Principal, Depends(viewer)]
Responder = Annotated[Principal, Depends(responder)]
Admin = Annotated[Principal, Depends(admin)]
