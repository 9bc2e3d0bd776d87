"""``mgops policy show | validate FILE | init``."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from mgops.cli.context import app_context
from mgops.cli.output import JsonOption, console, emit, table
from mgops.errors import InputError
from mgops.policy import load_policy
from mgops.policy.load import default_policy_text

app = typer.Typer(
    help="Show, check and copy the operations policy.", no_args_is_help=True
)


@app.command("show")
def show(
    ctx: typer.Context,
    section: str = typer.Argument(
        None, help="One section: services, severities, phases, rotations, escalation…"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show the policy in force (all of it, or one section)."""
    policy = app_context(ctx).policy
    data = policy.model_dump(mode="json")
    if section:
        key = {"escalation": "escalation_levels"}.get(section, section)
        if key not in data:
            raise InputError(
                f"The policy has no section {section!r}; sections: {', '.join(data)}."
            )
        data = {key: data[key]}

    def render() -> None:
        if section in (None, "services"):
            table(
                "Services",
                ["service", "min", "max", "scale trigger"],
                [
                    (
                        s.display_name,
                        s.min_replicas,
                        s.max_replicas,
                        ", ".join(
                            _trigger(t.metric, t.threshold, t.unit)
                            for t in s.scale_triggers
                        ),
                    )
                    for s in policy.services
                ],
            )
        if section in (None, "severities"):
            table(
                "Severities",
                [
                    "",
                    "label",
                    "response",
                    "resolution",
                    "paging",
                    "updates every",
                    "escalation",
                ],
                [
                    (
                        s.name,
                        s.label,
                        s.response_target,
                        s.resolution_target,
                        s.paging.value,
                        f"{s.status_update_minutes} min"
                        if s.status_update_minutes
                        else "-",
                        s.escalation.text,
                    )
                    for s in policy.severities
                ],
            )
        if section is None or section not in ("services", "severities"):
            console.print(
                yaml.safe_dump(
                    {
                        k: v
                        for k, v in data.items()
                        if k not in ("services", "severities")
                    },
                    sort_keys=False,
                    allow_unicode=True,
                    width=100,
                )
            )

    emit(data, as_json, render)


def _trigger(metric: str, threshold: float, unit: str) -> str:
    value = f"{threshold:g}"
    return {
        "percent": f"{metric.upper()} {value}%",
        "per-pod": f"{metric.upper() if metric == 'rps' else metric.title()}"
        f" {value}/pod",
        "ms": f"{metric.title()} {value}ms",
    }[unit]


@app.command("validate")
def validate(
    file: Path = typer.Argument(..., help="Policy file to check."),
    as_json: bool = JsonOption,
) -> None:
    """Check a policy file; errors name the field and the line."""
    policy = load_policy(file)
    summary = {
        "file": str(file),
        "valid": True,
        "services": len(policy.services),
        "rotations": len(policy.rotations),
        "escalation_levels": len(policy.escalation_levels),
    }
    emit(summary, as_json, lambda: console.print(f"{file}: the policy is valid."))


@app.command("init")
def init(
    file: Path = typer.Argument(Path("mgops-policy.yaml"), help="Where to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a copy of the built-in Media Gateway policy to edit."""
    if file.exists() and not force:
        raise InputError(f"{file} already exists; pass --force to overwrite it.")
    file.write_text(default_policy_text(), "utf-8")
    console.print(f"Wrote {file}. Check edits with: mgops policy validate {file}")
