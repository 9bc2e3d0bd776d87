"""Reading a policy file, with errors that name the field and the line.

YAML is parsed twice from the same text: once into plain data for pydantic, once
into a node tree that remembers where each value was written. A validation
error's location (``severities.1.response_target``) is walked down the node tree
to find its line.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mgops.errors import PolicyError
from mgops.policy.schema import Policy

DEFAULT_POLICY = "default.yaml"


def default_policy_text() -> str:
    return resources.files("mgops.policy").joinpath(DEFAULT_POLICY).read_text("utf-8")


@functools.cache
def default_policy() -> Policy:
    return load_policy_text(default_policy_text(), source="built-in policy")


def load_policy(path: str | Path | None) -> Policy:
    """The policy at ``path``, or the built-in Media Gateway policy when None."""
    if path is None:
        return default_policy()
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except FileNotFoundError:
        raise PolicyError(f"Policy file {file} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"Policy file {file} cannot be read: {exc}.") from None
    return load_policy_text(text, source=str(file))


def load_policy_text(text: str, *, source: str) -> Policy:
    try:
        data = yaml.safe_load(text)
        tree = yaml.compose(text)
    except RecursionError:
        raise PolicyError(
            f"{source}: the file is not valid YAML (nested too deeply)."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(f"{where}: the file is not valid YAML ({problem}).") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: a policy is a YAML mapping at the top level.")
    duplicate = _duplicate_key(tree)
    if duplicate is not None:
        key, line = duplicate
        raise PolicyError(
            f"{source}:{line}: the key {key!r} appears twice in the "
            "same mapping; YAML would silently keep the last one."
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_describe(exc, tree, source), detail=_details(exc)) from None


def _describe(exc: ValidationError, tree: yaml.Node | None, source: str) -> str:
    lines = []
    for err in exc.errors()[:10]:
        loc = tuple(err["loc"])
        field = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(tree, loc)
        where = f"{source}:{line}" if line else source
        lines.append(f"{where}: {field}: {_message(err)}")
    more = len(exc.errors()) - 10
    if more > 0:
        lines.append(f"... and {more} more problems")
    return "The policy is not valid:\n" + "\n".join(lines)


def _message(err: Any) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _details(exc: ValidationError) -> dict[str, Any]:
    return {
        "errors": [
            {"field": ".".join(str(p) for p in e["loc"]), "message": _message(e)}
            for e in exc.errors()
        ]
    }


def _duplicate_key(node: yaml.Node | None) -> tuple[str, int] | None:
    """The first key written twice in one mapping, with its second line."""
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in current.value:
                name = str(getattr(key, "value", ""))
                if name in seen:
                    return name, key.start_mark.line + 1
                seen.add(name)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return None


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node on ``loc`` that exists in the file."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next(
                (v for k, v in node.value if getattr(k, "value", None) == str(part)),
                None,
            )
            if child is None:
                break
            key = next(k for k, v in node.value if v is child)
            node, best = child, key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            break
    return best
