"""What every ``mgops service`` command shares: kubectl-style options, the scope,
durations, the live progress display and the outcome lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from mgops.cli.context import app_context
from mgops.cli.output import console, err_console
from mgops.config import resolve_setting
from mgops.errors import InputError

if TYPE_CHECKING:
    from mgops.runbooks.kube.restart import WatchOptions
    from mgops.runbooks.kube.rollout import RolloutProgress
    from mgops.runbooks.kube.scope import Scope

KubeconfigOpt = typer.Option(
    None, "--kubeconfig", envvar="KUBECONFIG", help="kubeconfig file (or KUBECONFIG)."
)
ContextOpt = typer.Option(
    None, "--context", help="kubeconfig context (default: its current context)."
)
NamespaceOpt = typer.Option(
    None, "--namespace", "-n", help="Namespace (default: production)."
)
InClusterOpt = typer.Option(
    False, "--in-cluster", help="Use the pod's service account instead of a kubeconfig."
)
TargetOpt = typer.Option(None, "--target", help="Named target from the config file.")
IncidentOpt = typer.Option(None, "--incident", help="Attach to incident N.")
DryRunOpt = typer.Option(
    False, "--dry-run", help="Show what would change; change nothing."
)
TimeoutOpt = typer.Option("10m", "--timeout", help="How long to wait (90s, 10m, 1h).")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``1h30m``, ``500ms``."""
    raw = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return float(raw)
    parts = _DURATION.findall(raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        raise InputError(f"{text!r} is not a duration: write 90s, 15m or 1h30m.")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def make_scope(
    ctx: typer.Context,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    in_cluster: bool,
    target: str | None,
) -> Scope:
    from mgops.runbooks.kube.client import KubeClient, KubeTarget
    from mgops.runbooks.kube.scope import Scope

    app_ctx = app_context(ctx)
    kube_context = resolve_setting("kube_context", context, target)
    ns = resolve_setting("kube_namespace", namespace, target) or "production"
    client = KubeClient.connect(KubeTarget(kubeconfig, kube_context, in_cluster))
    ctx.call_on_close(client.close)
    return Scope(client, app_ctx.store, app_ctx.policy, app_ctx.clock, ns)


@contextmanager
def live_watch(timeout: str, interval: float = 1.0) -> Iterator[WatchOptions]:
    """WatchOptions whose callbacks show progress on stderr (a spinner on a TTY)."""
    import httpx

    from mgops.runbooks.kube.restart import WatchOptions

    def describe(p: RolloutProgress) -> str:
        return (
            f"{p.deployment}: {p.message} ({p.updated}/{p.desired} updated, "
            f"{p.available} available)"
        )

    with httpx.Client(timeout=5.0, follow_redirects=True) as http:
        if err_console.is_terminal:
            with err_console.status("starting") as status:
                yield WatchOptions(
                    timeout=parse_duration(timeout),
                    interval=interval,
                    on_progress=lambda p: status.update(describe(p)),
                    on_step=status.update,
                    http=http,
                )
            return
        yield WatchOptions(
            timeout=parse_duration(timeout),
            interval=interval,
            on_progress=lambda p: err_console.print(describe(p), highlight=False),
            on_step=lambda text: err_console.print(text, highlight=False),
            http=http,
        )


def render_outcome(result: dict[str, Any]) -> None:
    if result.get("dry_run"):
        console.print("[yellow]dry run:[/yellow] nothing was changed.")
    rollout = result.get("rollout")
    if rollout:
        console.print(
            f"rollout: {rollout['message']} ({rollout['updated']}/{rollout['desired']} "
            f"updated, {rollout['available']} available)"
        )
    health = result.get("health")
    if health and health.get("url"):
        mark = "[green]ok[/green]" if health.get("ok") else "[red]failed[/red]"
        console.print(f"health {health['url']}: {mark} {health.get('detail', '')}")
    elif health:
        console.print(f"health: {health.get('detail')}")
