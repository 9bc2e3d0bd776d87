"""``mgops token …`` and ``mgops integration …``: secrets are printed once."""

from __future__ import annotations

import typer

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, console, emit

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
                f"Alertmanager webhook_configs url: <server>{path}", highlight=False
            )
        else:
            console.print(
                f"Send events to <server>{path} with routing_key {key}", highlight=False
            )

    emit(result, as_json, render)
