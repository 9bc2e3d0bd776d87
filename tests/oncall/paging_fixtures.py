"""A policy for paging tests: the runbook's team with contacts, rules and roles."""

from __future__ import annotations

from typing import Any

import yaml

from mgops.policy import Policy
from mgops.policy.load import default_policy_text, load_policy_text


def paging_policy(
    *,
    people: dict[str, dict[str, Any]] | None = None,
    level1_seconds: int | None = None,
    level1_window: dict[str, Any] | None = None,
    rotation: dict[str, Any] | None = None,
) -> Policy:
    """The default policy with paging-friendly people and optional overrides."""
    data = yaml.safe_load(default_policy_text())
    team = people or {
        "engineer-a": {"contacts": [{"kind": "console", "address": "engineer-a"}]},
        "engineer-b": {"contacts": [{"kind": "console", "address": "engineer-b"}]},
        "engineer-c": {"contacts": [{"kind": "console", "address": "engineer-c"}]},
        "engineer-d": {"contacts": [{"kind": "console", "address": "engineer-d"}]},
    }
    data["people"] = [
        {"name": handle.replace("-", " ").title(), "handle": handle, **fields}
        for handle, fields in team.items()
    ]
    level1 = data["escalation_levels"][0]
    if level1_seconds is not None:
        level1["after_seconds"] = level1_seconds
    if level1_window is not None:
        level1["window"] = level1_window
    if rotation is not None:
        data["rotations"][0].update(rotation)
    return load_policy_text(yaml.safe_dump(data), source="paging test policy")
