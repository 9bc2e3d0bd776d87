"""Where mgops finds things: the policy file, named targets, the acting person.

Named targets (``--target production``) come from a YAML file at
``$MGOPS_CONFIG`` or ``$XDG_CONFIG_HOME/mgops/config.yaml``::

    targets:
      production:
        postgres_url: postgresql://ops@127.0.0.1:5432/media_gateway
        redis_url: redis://127.0.0.1:6379/0
        qdrant_url: http://127.0.0.1:6333
        prometheus_url: http://127.0.0.1:9090
        kube_context: prod
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

import yaml

from mgops.errors import InputError

TARGET_KEYS = (
    "postgres_url",
    "redis_url",
    "qdrant_url",
    "prometheus_url",
    "kube_context",
    "kube_namespace",
    "flags_url",
)
ENV_FOR = {
    "postgres_url": "MGOPS_POSTGRES_URL",
    "redis_url": "MGOPS_REDIS_URL",
    "qdrant_url": "MGOPS_QDRANT_URL",
    "prometheus_url": "MGOPS_PROMETHEUS_URL",
    "flags_url": "MGOPS_FLAGS_URL",
}


def config_path() -> Path:
    explicit = os.environ.get("MGOPS_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mgops" / "config.yaml"


def load_config(path: Path | None = None) -> dict[str, Any]:
    file = path or config_path()
    if not file.exists():
        return {}
    try:
        data = yaml.safe_load(file.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"The config file {file} is not valid YAML: {exc}.") from None
    if not isinstance(data, dict):
        raise InputError(f"The config file {file} must hold a YAML mapping.")
    return data


def resolve_setting(key: str, explicit: str | None, target: str | None) -> str | None:
    """An explicit flag wins, then the environment, then the named target."""
    if explicit:
        return explicit
    env = ENV_FOR.get(key)
    if env and os.environ.get(env):
        return os.environ[env]
    if target is None:
        return None
    targets = load_config().get("targets") or {}
    if target not in targets:
        known = ", ".join(sorted(targets)) or "none are configured"
        raise InputError(
            f"There is no target named {target!r} in {config_path()} ({known})."
        )
    value = (targets[target] or {}).get(key)
    return str(value) if value is not None else None


def require_setting(
    key: str, explicit: str | None, target: str | None, *, flag: str | None = None
) -> str:
    value = resolve_setting(key, explicit, target)
    if value:
        return value
    flag = flag or "--" + key.replace("_", "-")
    env = ENV_FOR.get(key)
    hint = f", set {env}" if env else ""
    raise InputError(
        f"No {key.replace('_', ' ')} given: pass {flag}{hint} or --target."
    )


def current_actor() -> str:
    """Who is acting: ``MGOPS_ACTOR``, else the login name."""
    actor = os.environ.get("MGOPS_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
