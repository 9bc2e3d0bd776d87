"""``mgops service …``: runbook 1 and the first actions of 4.2, on Kubernetes.

Options follow kubectl: ``--kubeconfig`` (or ``$KUBECONFIG``), ``--context``,
``--namespace/-n`` (default ``production``), plus ``--target`` for a named target
of the mgops config file. Every change is audited, takes ``--incident N`` and
``--dry-run``, and is read back from the cluster before it is reported done.
"""

from __future__ import annotations

from typing import Any

import typer

from mgops import exitcodes
from mgops.cli.output import (
    JsonOption,
    confirm_typed,
    console,
    emit,
    err_console,
    table,
)
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
from mgops.cli.service_config import config_app, flags_app, secret_app
from mgops.config import resolve_setting
from mgops.errors import InputError

app = typer.Typer(
    help="Service runbooks on Kubernetes: status, restart, scale, config, secrets.",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")
app.add_typer(secret_app, name="secret")
app.add_typer(flags_app, name="flags")


# -- status ------------------------------------------------------------------


@app.command("status")
def status(
    ctx: typer.Context,
    service: str = typer.Argument(
        None, help="A service of the policy; all if omitted."
    ),
    kubeconfig: str = KubeconfigOpt,
    context: str = ContextOpt,
    namespace: str = NamespaceOpt,
    in_cluster: bool = InClusterOpt,
    target: str = TargetOpt,
    as_json: bool = JsonOption,
) -> None:
    """Deployment, pods, HPA, events and revision of a service (or all of them)."""
    from mgops.runbooks.kube.status import overview, service_status

    scope = make_scope(ctx, kubeconfig, context, namespace, in_cluster, target)
    if service is None:
        rows = overview(scope)
        emit(rows, as_json, lambda: _render_overview(rows))
        return
    result = service_status(scope, service)
    emit(result, as_json, lambda: _render_status(result))


def _render_overview(rows: list[dict[str, Any]]) -> None:
    table(
        "services",
        ["service", "ready", "updated", "available", "revision", "hpa", "state"],
        [
            [
                r["service"],
                f"{r['ready']}/{r['desired']}" if r["found"] else "-",
                r.get("updated", "-"),
                r.get("available", "-"),
                r.get("revision", "-"),
                f"{r['hpa']['min']}-{r['hpa']['max']}" if r.get("hpa") else "",
                _state(r),
            ]
            for r in rows
        ],
    )


def _state(row: dict[str, Any]) -> str:
    if not row["found"]:
        return "no deployment"
    if row["paused"]:
        return "paused"
    return "healthy" if row["healthy"] else "degraded"


def _render_status(r: dict[str, Any]) -> None:
    paused = " [yellow](paused)[/yellow]" if r["paused"] else ""
    console.print(
        f"[bold]{r['deployment']}[/bold] in {r['namespace']}{paused}: "
        f"{r['ready']}/{r['desired']} ready, {r['updated']} updated, "
        f"{r['available']} available, revision {r['revision']}; policy "
        f"{r['policy']['min']}-{r['policy']['max']} replicas"
    )
    for kind, text in r["conditions"].items():
        console.print(f"  {kind}: {text}", highlight=False)
    if r["hpa"]:
        h = r["hpa"]
        console.print(
            f"HPA {h['name']}: min {h['min']}, max {h['max']}, "
            f"current {h['current']}, desired {h['desired']}"
        )
    table(
        "pods",
        ["pod", "ready", "status", "restarts", "node"],
        [
            [
                p["name"],
                "yes" if p["ready"] else "no",
                p["status"],
                p["restarts"],
                p["node"],
            ]
            for p in r["pods"]
        ],
        empty="No pods.",
    )
    table(
        "recent events",
        ["at", "type", "reason", "object", "message"],
        [
            [e["at"], e["type"], e["reason"], e["object"], e["message"]]
            for e in r["events"]
        ],
        empty="No recent events.",
    )


# -- restart -----------------------------------------------------------------


@app.command("restart")
def restart(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="A service of the policy."),
    hard: bool = typer.Option(False, "--hard", help="Scale to 0 and back (an outage)."),
    resume: bool = typer.Option(
        False, "--resume", help="Finish an interrupted --hard."
    ),
    pod: str = typer.Option(None, "--pod", help="Restart only this pod (eviction)."),
    force: bool = typer.Option(
        False, "--force", help="With --pod: delete instead of evicting (ignores PDBs)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Confirm a hard restart."),
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
    """Rolling restart; --hard scales to 0 and back; --pod restarts one pod."""
    from mgops.runbooks.kube import hard as hard_core
    from mgops.runbooks.kube import pod_restart
    from mgops.runbooks.kube.restart import rolling_restart

    if resume and not hard:
        raise InputError("--resume finishes a hard restart: use it with --hard.")
    if pod and hard:
        raise InputError("--pod and --hard do not go together.")
    if force and not pod:
        raise InputError("--force only applies to --pod.")
    scope = make_scope(ctx, kubeconfig, context, namespace, in_cluster, target)
    with live_watch(timeout) as watch:
        if pod:
            result = pod_restart.restart_pod(
                scope,
                service,
                pod,
                force=force,
                incident_id=incident,
                dry_run=dry_run,
                watch=watch,
            )
        elif hard and resume:
            result = hard_core.resume_hard_restart(
                scope, service, incident_id=incident, dry_run=dry_run, watch=watch
            )
        elif hard:
            err_console.print(
                f"[bold red]warning:[/bold red] {hard_core.OUTAGE_WARNING}"
            )
            if not dry_run:
                confirm_typed(service, what=f"Hard restart of {service}", yes=yes)
            result = hard_core.hard_restart(
                scope, service, incident_id=incident, dry_run=dry_run, watch=watch
            )
        else:
            result = rolling_restart(
                scope, service, incident_id=incident, dry_run=dry_run, watch=watch
            )
    emit(result, as_json, lambda: _render_restart(result))


def _render_restart(result: dict[str, Any]) -> None:
    if "pod" in result:
        replacement = result.get("replacement")
        verb = "deleted" if result["method"] == "delete" else "evicted"
        tail = f"; replacement {replacement} is Ready" if replacement else ""
        console.print(f"pod {result['pod']} {verb}{tail}")
    elif result.get("mode") == "hard":
        console.print(
            f"hard restart of {result['deployment']}: original "
            f"{result['original_replicas']} replicas"
            + (" (resumed)" if result.get("resumed") else "")
        )
    else:
        console.print(f"rolling restart of {result['deployment']}")
    render_outcome(result)


# -- scale -------------------------------------------------------------------


@app.command("scale")
def scale(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="A service of the policy."),
    replicas: int = typer.Argument(..., min=0, help="The replica count wanted."),
    force: bool = typer.Option(
        False, "--force", help="Scale down despite the CPU guard."
    ),
    watch_for: str = typer.Option(
        None, "--watch", help="Then watch error rate, latency, CPU this long (15m)."
    ),
    watch_interval: str = typer.Option(
        "30s", "--watch-interval", help="Sample period."
    ),
    window: str = typer.Option("5m", "--window", help="PromQL rate window."),
    prometheus_url: str = typer.Option(
        None, "--prometheus-url", help="Prometheus (or MGOPS_PROMETHEUS_URL)."
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
    """Scale within the policy's bounds; through the HPA when one manages it."""
    from mgops.runbooks.kube import scale as core
    from mgops.runbooks.prometheus import PrometheusClient

    scope = make_scope(ctx, kubeconfig, context, namespace, in_cluster, target)
    url = resolve_setting("prometheus_url", prometheus_url, target)
    prom = PrometheusClient(url) if url else None
    duration = parse_duration(watch_for) if watch_for else None
    if duration and prom is None:
        raise InputError("--watch needs Prometheus: pass --prometheus-url.")
    with live_watch(timeout) as watch:
        result = core.scale(
            scope,
            service,
            replicas,
            prometheus=prom,
            force=force,
            incident_id=incident,
            dry_run=dry_run,
            watch=watch,
            window=window,
        )
    if duration and prom is not None and not dry_run:
        report = core.watch_after_scale(
            scope,
            service,
            prometheus=prom,
            duration=duration,
            interval=parse_duration(watch_interval),
            incident_id=incident,
            window=window,
            on_sample=lambda s: err_console.print(
                f"t+{s.seconds:.0f}s errors {_pct(s.error_ratio)} p99 "
                f"{_ms(s.latency_p99)} cpu max {_num(s.cpu_max)}%",
                highlight=False,
            ),
        )
        result["watch"] = report.as_dict()
    emit(result, as_json, lambda: _render_scale(result))
    if "watch" in result and not result["watch"]["ok"]:
        raise typer.Exit(exitcodes.TARGET_FAILED)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.0f}ms"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _render_scale(result: dict[str, Any]) -> None:
    console.print(f"{result['deployment']}: {result['from']} → {result['to']} replicas")
    guard = result.get("cpu_guard")
    if guard and guard.get("checked"):
        note = " (overridden by --force)" if guard.get("overridden") else ""
        console.print(
            f"CPU guard: projected {guard['projected_percent']}% at "
            f"{guard['target_replicas']} replicas, "
            f"limit {guard['limit_percent']:.0f}%{note}"
        )
    hpa = result.get("hpa")
    if hpa:
        console.print(
            f"HPA {hpa['name']}: min {hpa['before']['minReplicas']} → "
            f"{hpa['after']['minReplicas']}, max {hpa['before']['maxReplicas']} → "
            f"{hpa['after']['maxReplicas']} ({hpa['why']})"
        )
        if hpa.get("note"):
            console.print(f"note: {hpa['note']}")
    render_outcome(result)
    report = result.get("watch")
    if report:
        for name, check in report["checks"].items():
            mark = "[green]ok[/green]" if check["ok"] else "[red]FAILED[/red]"
            console.print(f"{name}: {mark} {_check_detail(check)}")


def _check_detail(check: dict[str, Any]) -> str:
    if "detail" in check:
        return str(check["detail"])
    return f"worst {check['worst']:.4g}, limit {check['limit']:.4g}"


# -- history and rollback ----------------------------------------------------


@app.command("history")
def history(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="A service of the policy."),
    kubeconfig: str = KubeconfigOpt,
    context: str = ContextOpt,
    namespace: str = NamespaceOpt,
    in_cluster: bool = InClusterOpt,
    target: str = TargetOpt,
    as_json: bool = JsonOption,
) -> None:
    """The deployment's revisions (ReplicaSets), newest last."""
    from mgops.runbooks.kube.history import history as core_history

    scope = make_scope(ctx, kubeconfig, context, namespace, in_cluster, target)
    rows = core_history(scope, service)
    emit(
        rows,
        as_json,
        lambda: table(
            f"{service} revisions",
            ["revision", "replicaset", "images", "created", "replicas", "cause", ""],
            [
                [
                    r["revision"],
                    r["replicaset"],
                    ", ".join(r["images"]),
                    r["created"],
                    f"{r['ready']}/{r['replicas']}",
                    r["change_cause"],
                    "current" if r["current"] else "",
                ]
                for r in rows
            ],
            empty="No revisions.",
        ),
    )


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="A service of the policy."),
    to: int = typer.Option(None, "--to", help="Revision (default: the previous one)."),
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
    """Go back to an earlier revision and watch the rollout."""
    from mgops.runbooks.kube.history import rollback as core_rollback

    scope = make_scope(ctx, kubeconfig, context, namespace, in_cluster, target)
    with live_watch(timeout) as watch:
        result = core_rollback(
            scope,
            service,
            to_revision=to,
            incident_id=incident,
            dry_run=dry_run,
            watch=watch,
        )

    def render() -> None:
        console.print(
            f"{service}: revision {result['from_revision']} → {result['to_revision']} "
            f"({', '.join(str(i) for i in result['images'])})"
        )
        render_outcome(result)

    emit(result, as_json, render)
