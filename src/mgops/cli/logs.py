"""``mgops logs``: query structured logs with the Cloud Logging language.

``query`` runs any filter with pipe stages; ``explain`` shows the parse and
the SQL; the rest are the runbook's investigations (section 5.2) by name.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import typer

from mgops.cli.context import app_context
from mgops.cli.output import console, err_console
from mgops.errors import InputError

app = typer.Typer(
    help="Search JSON logs: Cloud Logging filters plus pipe stages.",
    no_args_is_help=True,
)

InputsArg = typer.Argument(
    None, help="Files or directories (gzip is fine); '-' or nothing reads stdin."
)
SinceOpt = typer.Option(None, "--since", help="Only entries newer than 1h, 30m, 2d…")
UntilOpt = typer.Option(None, "--until", help="Only entries older than this.")
FormatOpt = typer.Option("table", "--format", "-f", help="table, json or csv.")
StrictOpt = typer.Option(
    False, "--strict", help="Cloud Logging semantics only: no mgops extensions."
)
LimitOpt = typer.Option(None, "--limit", "-n", min=1, help="At most this many rows.")


def _run(
    ctx: typer.Context,
    query_text: str,
    inputs: list[str] | None,
    *,
    since: str | None,
    until: str | None,
    output: str,
    strict: bool,
    limit: int | None,
    plot: Path | None = None,
    extra: list[Any] | None = None,
) -> None:
    from mgops.logs import run_query, sources_from_args
    from mgops.logs.render import FORMATS
    from mgops.logs.window import parse_bound

    if output not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}.")
    now = app_context(ctx).clock.now()
    sources = list(extra or [])
    if inputs or not sources:
        sources += sources_from_args(_inputs(inputs), sys.stdin.buffer)
    with _ProgressBar() as progress:
        result = run_query(
            query_text,
            sources,
            since=parse_bound(since, now=now, flag="--since"),
            until=parse_bound(until, now=now, flag="--until"),
            strict=strict,
            limit=limit,
            progress=progress,
        )
    _show(result, output, plot)


def _pod_source(
    ctx: typer.Context,
    service: str,
    since: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    namespace: str | None,
    in_cluster: bool,
    target: str | None,
) -> Any:
    """The service's pod logs through the Kubernetes API, as one more source."""
    from mgops.cli.service_common import make_scope
    from mgops.logs.sources import LinesSource
    from mgops.logs.window import parse_bound
    from mgops.runbooks.kube.logs import pod_log_lines

    scope = make_scope(ctx, kubeconfig, kube_context, namespace, in_cluster, target)
    now = app_context(ctx).clock.now()
    start = parse_bound(since, now=now, flag="--since")
    window = now - start if start is not None else None
    lines = pod_log_lines(scope.client, service, scope.namespace, since=window)
    return LinesSource(lines=lines, name=f"pods of {service}")


def _inputs(inputs: list[str] | None) -> list[str]:
    if inputs:
        return inputs
    if sys.stdin.isatty():
        raise InputError("Give log files or directories, or pipe lines into stdin.")
    return ["-"]


class _ProgressBar:
    """A Rich progress bar on stderr, only when stderr is a terminal."""

    def __enter__(self) -> Any:
        if not err_console.is_terminal:
            self.bar = None
            return None
        from rich.progress import BarColumn, Progress, TimeElapsedColumn

        self.bar = Progress(
            "scanning",
            BarColumn(),
            "{task.percentage:>3.0f}%",
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("scan", total=1.0)
        bar = self.bar
        return lambda fraction: bar.update(task, completed=fraction)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _show(result: Any, output: str, plot: Path | None) -> None:
    from mgops.logs import render

    if output == "json":
        sys.stdout.write(render.to_json(result) + "\n")
    elif output == "csv":
        sys.stdout.write(render.to_csv(result))
    else:
        render.render_table(result, console)
        if result.chart and result.rows:
            render.terminal_chart(result, sys.stdout)
    if plot is not None:
        if not result.chart:
            raise InputError("--plot needs a query that ends in a timechart stage.")
        render.plot_png(result, plot)
        err_console.print(f"chart written to {plot}", highlight=False)
    for note in result.notes:
        err_console.print(f"[yellow]note:[/yellow] {note}", highlight=False)


@app.command("query")
def query(
    ctx: typer.Context,
    query_text: str = typer.Argument(..., metavar="QUERY"),
    inputs: list[str] = InputsArg,
    since: str = SinceOpt,
    until: str = UntilOpt,
    output: str = FormatOpt,
    strict: bool = StrictOpt,
    limit: int = LimitOpt,
    follow: bool = typer.Option(
        False, "--follow", "-F", help="Keep printing entries as they are appended."
    ),
    plot: Path = typer.Option(None, "--plot", help="Write a timechart as PNG."),
    service: str = typer.Option(
        None, "--service", help="Also read this service's pod logs from Kubernetes."
    ),
    kubeconfig: str = typer.Option(None, "--kubeconfig", envvar="KUBECONFIG"),
    kube_context: str = typer.Option(None, "--context", help="kubeconfig context."),
    namespace: str = typer.Option(
        None, "--namespace", "-n", help="Default production."
    ),
    in_cluster: bool = typer.Option(False, "--in-cluster"),
    target: str = typer.Option(None, "--target", help="Named target (kube settings)."),
) -> None:
    """Run QUERY, e.g. 'severity>=ERROR | groupBy path | count'."""
    pods = None
    if service:
        pods = _pod_source(
            ctx, service, since, kubeconfig, kube_context, namespace, in_cluster, target
        )
    if follow:
        _follow(ctx, query_text, inputs, output=output, strict=strict)
        return
    _run(
        ctx,
        query_text,
        inputs,
        since=since,
        until=until,
        output=output,
        strict=strict,
        limit=limit,
        plot=plot,
        extra=[pods] if pods is not None else [],
    )


def _follow(
    ctx: typer.Context,
    query_text: str,
    inputs: list[str] | None,
    *,
    output: str,
    strict: bool,
) -> None:
    from mgops.logs import render
    from mgops.logs.follow import Tail, check_followable, follow

    check_followable(query_text)

    def emit(result: Any) -> None:
        for line in render.stream_lines(result, output):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    with contextlib.ExitStack() as stack:
        tails = [
            Tail(sys.stdin.buffer, from_start=True)
            if name == "-"
            else Tail(stack.enter_context(Path(name).open("rb")))
            for name in _inputs(inputs)
        ]
        follow(query_text, tails, emit, clock=app_context(ctx).clock, strict=strict)


@app.command("explain")
def explain_command(
    query_text: str = typer.Argument(..., metavar="QUERY"),
    strict: bool = StrictOpt,
) -> None:
    """Show how QUERY was parsed and the DuckDB SQL it runs as."""
    from mgops.logs import explain

    parsed, plan = explain(query_text, strict=strict)
    console.print("[bold]filter[/bold]", highlight=False)
    console.print(repr(parsed.filter), highlight=False, markup=False)
    for stage in parsed.stages:
        console.print(f"[bold]| {stage.kind}[/bold] {stage}", markup=True)
    console.print(f"[bold]mode[/bold] {plan.mode}")
    if plan.prefilter:
        console.print("[bold]raw-line prefilter[/bold]", highlight=False)
        console.print(plan.prefilter, markup=False, highlight=False)
    console.print("[bold]sql[/bold]")
    console.print(plan.sql, markup=False, highlight=False, soft_wrap=True)


def _saved(name: str, doc: str, build: Any, *, arg: str | None = None) -> None:
    """Register one saved query as a command with the usual options."""

    def command(
        ctx: typer.Context,
        inputs: list[str] = InputsArg,
        since: str = SinceOpt,
        until: str = UntilOpt,
        output: str = FormatOpt,
        strict: bool = StrictOpt,
        limit: int = LimitOpt,
    ) -> None:
        _run(
            ctx,
            build(ctx),
            inputs,
            since=since,
            until=until,
            output=output,
            strict=strict,
            limit=limit,
        )

    command.__doc__ = doc
    app.command(name)(command)


def _register() -> None:
    from mgops.logs import saved

    for name, func, doc in (
        ("errors-by-path", saved.errors_by_path, "Which endpoints are erroring."),
        (
            "errors-by-type",
            saved.errors_by_type,
            "Error messages, most frequent first.",
        ),
        ("errors-by-user", saved.errors_by_user, "Users with the most errors."),
        ("downstream-errors", saved.downstream_errors, "Errors from dependencies."),
    ):
        _saved(name, doc, lambda _ctx, f=func: f())


_register()


def _threshold(name: str, doc: str, builder_name: str, ms: int, what: str) -> None:
    """Register a saved query over one latency field, with ``--ms`` as its bound."""

    def command(
        ctx: typer.Context,
        inputs: list[str] = InputsArg,
        ms: int = typer.Option(ms, "--ms", help=what),
        since: str = SinceOpt,
        until: str = UntilOpt,
        output: str = FormatOpt,
        strict: bool = StrictOpt,
        limit: int = LimitOpt,
    ) -> None:
        from mgops.logs import saved

        _run(
            ctx,
            getattr(saved, builder_name)(ms),
            inputs,
            since=since,
            until=until,
            output=output,
            strict=strict,
            limit=limit,
        )

    command.__doc__ = doc
    app.command(name)(command)


_threshold(
    "slow",
    "Requests slower than --ms, slowest first.",
    "slow",
    1000,
    "Slower than this many ms.",
)
_threshold(
    "slow-db",
    "Entries whose dbLatencyMs is above --ms, slowest first.",
    "slow_db",
    100,
    "Database time above this many ms.",
)
_threshold(
    "slow-external",
    "Entries whose externalApiMs is above --ms, slowest first.",
    "slow_external",
    500,
    "External API time above this many ms.",
)


def _lookup(name: str, doc: str, builder_name: str) -> None:
    def command(
        ctx: typer.Context,
        value: str = typer.Argument(..., metavar="ID"),
        inputs: list[str] = InputsArg,
        since: str = SinceOpt,
        until: str = UntilOpt,
        output: str = FormatOpt,
        strict: bool = StrictOpt,
        limit: int = LimitOpt,
    ) -> None:
        from mgops.logs import saved

        query_text = getattr(saved, builder_name)(value)
        _run(
            ctx,
            query_text,
            inputs,
            since=since,
            until=until,
            output=output,
            strict=strict,
            limit=limit,
        )

    command.__doc__ = doc
    app.command(name)(command)


_lookup("user", "Every entry of one user (jsonPayload.userId).", "user")
_lookup("request", "Every entry of one request (jsonPayload.requestId).", "request")
_lookup("trace", "Every entry of one trace: full name, bare id or traceId.", "trace")
