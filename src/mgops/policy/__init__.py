"""The runbook's tables as data: a YAML file validated by pydantic models."""

from mgops.policy.load import default_policy, load_policy, load_policy_text
from mgops.policy.schema import Policy

__all__ = ["Policy", "default_policy", "load_policy", "load_policy_text"]
