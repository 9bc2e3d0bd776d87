"""``mgops token …`` and ``mgops integration …``: secrets are printed once."""

from __future__ import annotations

from typing import Any

import typer

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, console, emit, table

ROLES = ("viewer", "responder", "admin")

token_app = typer.Typer(
    help="API tokens (viewer, responder, admin).", no_args_is_help=True
)
integration_app = typer.Typer(help="Intake integration keys.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help=" / ".join(ROLES)),
    name: str = typer.Option(None, "--name", help="Who or what uses it."),
    as_json: bool = JsonOption,
) -> None:
    """Create an API token and print its secret once."""
    from mgops.access import create_token
    from mgops.incidents.desk import ApiClient
    from mgops.web.api.admin import TokenRequest

    app = app_context(ctx)
    label = name or role
    if app.server:
        data = ApiClient(app.server, app.token).call(
            "POST",
            "/api/v1/tokens",
            TokenRequest.model_validate({"name": label, "role": role}),
        )
        secret, token_id = data["token"], data["id"]
    else:
        with app.store.session() as session:
            row, secret = create_token(
                session, name=label, role=role, now=app.clock.now()
            )
            token_id = row.id
    result = {"id": token_id, "name": label, "role": role, "token": secret}
    emit(
        result,
        as_json,
        lambda: console.print(
            f"Token {token_id} ({role}) for {label}. Shown only once:\n\n"
            f"    {secret}\n",
            highlight=False,
        ),
    )


@integration_app.command("create")
def integration_create(
    ctx: typer.Context,
    kind: str = typer.Option(..., "--kind", help="alertmanager or events-v2"),
    name: str = typer.Option(None, "--name"),
    as_json: bool = JsonOption,
) -> None:
    """Create an intake integration and print its key once."""
    from mgops.access import create_integration
    from mgops.incidents.desk import ApiClient
    from mgops.web.api.admin import IntegrationRequest, integration_path

    app = app_context(ctx)
    label = name or kind
    if app.server:
        data = ApiClient(app.server, app.token).call(
            "POST",
            "/api/v1/integrations",
            IntegrationRequest.model_validate({"name": label, "kind": kind}),
        )
        key, ident = data["key"], data["id"]
    else:
        with app.store.session() as session:
            row, key = create_integration(
                session, name=label, kind=kind, now=app.clock.now()
            )
            ident = row.id
    path = integration_path(kind, key)
    result = {"id": ident, "name": label, "kind": kind, "key": key, "path": path}

    def render() -> None:
        console.print(
            f"Integration {ident} ({kind}). The key is shown only once:\n\n    {key}\n",
            highlight=False,
        )
        if kind == "alertmanager":
            console.print(
                f"Alertmanager webhook_configs url: {app.server or '<server>'}{path}",
                highlight=False,
            )
        else:
            console.print(
                f"Send events to {app.server or '<server>'}{path} "
                f"with routing_key {key}",
                highlight=False,
            )

    emit(result, as_json, render)


def _admin_call(ctx: typer.Context, method: str, path: str) -> Any:
    from mgops.incidents.desk import ApiClient

    app = app_context(ctx)
    return ApiClient(app.server or "", app.token).call(method, path)


@token_app.command("list")
def token_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """API tokens (never their secrets)."""
    from sqlalchemy import select

    from mgops.store.models import ApiToken
    from mgops.web.api.admin import TokenView, token_view

    app = app_context(ctx)
    if app.server:
        rows = [
            TokenView.model_validate(t)
            for t in _admin_call(ctx, "GET", "/api/v1/tokens")
        ]
    else:
        with app.store.session() as session:
            rows = [
                token_view(t)
                for t in session.scalars(select(ApiToken).order_by(ApiToken.id))
            ]
    emit(
        rows,
        as_json,
        lambda: table(
            "API tokens",
            ["#", "name", "role", "prefix", "created (UTC)", "revoked"],
            [
                (
                    t.id,
                    t.name,
                    t.role,
                    t.prefix + "…",
                    f"{t.created_at:%Y-%m-%d %H:%M}",
                    f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
                )
                for t in rows
            ],
            empty="No tokens.",
        ),
    )


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: int, as_json: bool = JsonOption) -> None:
    """Revoke a token; requests with it are refused at once."""
    from mgops.access import revoke_token
    from mgops.web.api.admin import TokenView, token_view

    app = app_context(ctx)
    if app.server:
        view = TokenView.model_validate(
            _admin_call(ctx, "DELETE", f"/api/v1/tokens/{token_id}")
        )
    else:
        with app.store.session() as session:
            view = token_view(revoke_token(session, token_id, now=app.clock.now()))
    emit(view, as_json, lambda: console.print(f"Token {token_id} revoked."))


@integration_app.command("list")
def integration_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Intake integrations (never their keys)."""
    from sqlalchemy import select

    from mgops.store.models import Integration
    from mgops.web.api.admin import IntegrationView

    app = app_context(ctx)
    if app.server:
        rows = [
            IntegrationView.model_validate(i)
            for i in _admin_call(ctx, "GET", "/api/v1/integrations")
        ]
    else:
        with app.store.session() as session:
            rows = [
                IntegrationView(
                    id=r.id,
                    name=r.name,
                    kind=r.kind,
                    prefix=r.prefix,
                    created_at=r.created_at,
                )
                for r in session.scalars(
                    select(Integration).where(Integration.revoked_at.is_(None))
                )
            ]
    emit(
        rows,
        as_json,
        lambda: table(
            "Integrations",
            ["#", "name", "kind", "key starts", "created (UTC)"],
            [
                (i.id, i.name, i.kind, i.prefix + "…", f"{i.created_at:%Y-%m-%d %H:%M}")
                for i in rows
            ],
            empty="No integrations.",
        ),
    )
