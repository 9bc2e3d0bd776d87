"""``mgops service config|secret|flags``: runbook 1.3, configuration updates."""

from __future__ import annotations

from pathlib import Path

import typer

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, console, emit
from mgops.cli.service_common import (
    ContextOpt,
    DryRunOpt,
    IncidentOpt,
    InClusterOpt,
    KubeconfigOpt,
    NamespaceOpt,
    TargetOpt,
    TimeoutOpt,
    live_watch,
    make_scope,
    parse_duration,
    render_outcome,
)
from mgops.config import require_setting

config_app = typer.Typer(help="ConfigMap updates (runbook 1.3).", no_args_is_help=True)
secret_app = typer.Typer(help="Secret updates (runbook 1.3).", no_args_is_help=True)
flags_app = typer.Typer(help="Feature flags (runbook 1.3).", no_args_is_help=True)


@config_app.command("apply")
def config_apply(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A ConfigMap manifest (YAML)."),
    service: str = typer.Option(None, "--service", help="Default: <name>-config."),
    incident: int = IncidentOpt,
    dry_run: bool = DryRunOpt,
    timeout: str = TimeoutOpt,
    kubeconfig: str = KubeconfigOpt,
    context: str = ContextOpt,
    namespace: str = NamespaceOpt,
    in_cluster: bool = InClusterOpt,
    target: str = TargetOpt,
    as_json: bool = JsonOption,
) -> None:
    """Apply a ConfigMap, restart its service, verify the pods by hash."""
    from mgops.runbooks.kube.configmap import apply_config

    scope = make_scope(ctx, kubeconfig, context, namespace, in_cluster, target)
    with live_watch(timeout) as watch:
        result = apply_config(
            scope,
            file,
            service=service,
            incident_id=incident,
            dry_run=dry_run,
            watch=watch,
        )

    def render() -> None:
        keys = result["keys"]
        console.print(
            f"ConfigMap {result['configmap']} sha256 {result['sha256'][:12]}: "
            f"added {len(keys['added'])}, changed {len(keys['changed'])}, "
            f"removed {len(keys['removed'])} keys "
            f"({', '.join(keys['added'] + keys['changed'] + keys['removed']) or '-'})"
        )
        if "verified_pods" in result:
            console.print(
                f"{result['verified_pods']} pods run config {result['sha256'][:12]}"
            )
        render_outcome(result)

    emit(result, as_json, render)


@secret_app.command("sync")
def secret_sync(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The ExternalSecret."),
    service: str = typer.Option(
        None, "--service", help="Restart this service (default: those using it)."
    ),
    incident: int = IncidentOpt,
    dry_run: bool = DryRunOpt,
    timeout: str = TimeoutOpt,
    kubeconfig: str = KubeconfigOpt,
    context: str = ContextOpt,
    namespace: str = NamespaceOpt,
    in_cluster: bool = InClusterOpt,
    target: str = TargetOpt,
    as_json: bool = JsonOption,
) -> None:
    """Force an ExternalSecret to sync, confirm it did, then restart its users."""
    from mgops.runbooks.kube.secrets import sync_secret

    scope = make_scope(ctx, kubeconfig, context, namespace, in_cluster, target)
    with live_watch(timeout, interval=0.5) as watch:
        result = sync_secret(
            scope,
            name,
            service=service,
            incident_id=incident,
            dry_run=dry_run,
            watch=watch,
        )

    def render() -> None:
        if result.get("refresh_after"):
            console.print(
                f"ExternalSecret {name} refreshed at {result['refresh_after']} "
                f"(before: {result['refresh_before'] or 'never'})"
            )
        restarted = result.get("restarts") or {}
        for svc, outcome in restarted.items():
            console.print(f"restarted {svc}:")
            render_outcome(outcome)
        if result.get("not_restarted"):
            console.print(
                "also uses it, not in the policy, not restarted: "
                + ", ".join(result["not_restarted"])
            )
        if not result["restart"]:
            console.print(f"no service uses Secret {result['secret']}; none restarted")
        render_outcome({"dry_run": result["dry_run"]})

    emit(result, as_json, render)


@flags_app.command("verify")
def flags_verify(
    ctx: typer.Context,
    flag: str = typer.Argument(..., help="The flag's key (a.b for nested)."),
    expect: str = typer.Option(..., "--expect", help="The value (JSON or text)."),
    flags_url: str = typer.Option(None, "--flags-url", help="Or MGOPS_FLAGS_URL."),
    consecutive: int = typer.Option(3, "--consecutive", min=1, help="Reads in a row."),
    interval: str = typer.Option("2s", "--interval", help="Between reads."),
    timeout: str = typer.Option("2m", "--timeout", help="Give up after."),
    incident: int = IncidentOpt,
    target: str = TargetOpt,
    as_json: bool = JsonOption,
) -> None:
    """Poll the flags endpoint until FLAG reads the expected value."""
    import httpx

    from mgops.audit import audited
    from mgops.runbooks.kube.flags import expected_value, verify_flag

    url = require_setting("flags_url", flags_url, target)
    app_ctx = app_context(ctx)
    wanted = expected_value(expect)
    with (
        httpx.Client(timeout=5.0) as http,
        audited(
            app_ctx.store,
            kind="flags.verify",
            target=url,
            params={"flag": flag, "expect": wanted},
            incident_id=incident,
            clock=app_ctx.clock,
        ) as action,
    ):
        result = verify_flag(
            url,
            flag,
            wanted,
            http=http,
            clock=app_ctx.clock,
            timeout=parse_duration(timeout),
            interval=parse_duration(interval),
            consecutive=consecutive,
        )
        action.result.update(result)
    emit(
        result,
        as_json,
        lambda: console.print(
            f"flag {flag} reads {expect} ({result['reads']} reads, "
            f"{result['seconds']}s)"
        ),
    )
