"""The fake API server's object store: resource versions, patches, selectors, watches.

Every write goes through ``ObjectStore`` under one lock. Each write bumps the global
resourceVersion and appends a watch event, so a watcher that starts from a list's
resourceVersion sees every later change, the way the real API server behaves.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # group, plural, namespace, name


class ApiError(Exception):
    """An error the handler turns into a ``Status`` response."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WatchEvent:
    rv: int
    type: str
    group: str
    plural: str
    obj: Obj


class ObjectStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[Key, Obj] = {}
        self.rv = 1000
        self.events: list[WatchEvent] = []
        self.stopped = False

    # -- reads -------------------------------------------------------------

    def get(self, group: str, plural: str, ns: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects.get((group, plural, ns, name))
            if obj is None:
                what = f"{plural}.{group}" if group else plural
                raise ApiError(404, "NotFound", f'{what} "{name}" not found')
            return copy.deepcopy(obj)

    def find(self, group: str, plural: str, ns: str, name: str) -> Obj | None:
        with self.lock:
            obj = self.objects.get((group, plural, ns, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(
        self,
        group: str,
        plural: str,
        ns: str | None,
        labels: str | None = None,
        fields: str | None = None,
    ) -> list[Obj]:
        with self.lock:
            found = [
                copy.deepcopy(obj)
                for (g, p, n, _), obj in sorted(self.objects.items())
                if g == group and p == plural and (ns is None or n == ns)
            ]
        return [o for o in found if matches(o, labels, fields)]

    # -- writes ------------------------------------------------------------

    def create(self, group: str, plural: str, ns: str, obj: Obj) -> Obj:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            name = meta.get("name")
            if not name:
                raise ApiError(422, "Invalid", "metadata.name: Required value")
            key = (group, plural, ns, name)
            if key in self.objects:
                raise ApiError(
                    409, "AlreadyExists", f'{plural} "{name}" already exists'
                )
            if ns:
                meta["namespace"] = ns
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            meta.pop("resourceVersion", None)
            self._store(key, obj, "ADDED")
            return copy.deepcopy(obj)

    def replace(
        self, group: str, plural: str, ns: str, obj: Obj, *, status: bool
    ) -> Obj:
        """PUT: ``status`` chooses which half of the object the caller may change."""
        with self.lock:
            name = obj.get("metadata", {}).get("name", "")
            old = self.get(group, plural, ns, name)
            sent_rv = obj.get("metadata", {}).get("resourceVersion")
            if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {plural} "{name}": the object '
                    "has been modified; please apply your changes to the latest "
                    "version and try again",
                )
            return self.commit(group, plural, ns, old, obj, status=status)

    def commit(
        self, group: str, plural: str, ns: str, old: Obj, new: Obj, *, status: bool
    ) -> Obj:
        """Store ``new`` in place of ``old``, keeping what the caller may not change."""
        with self.lock:
            new = copy.deepcopy(new)
            if status:
                merged = copy.deepcopy(old)
                merged["status"] = new.get("status", {})
                new = merged
            else:
                if "status" in old:
                    new["status"] = old["status"]
                if old.get("spec") != new.get("spec"):
                    new["metadata"]["generation"] = old["metadata"]["generation"] + 1
            meta = new["metadata"]
            for fixed in ("uid", "creationTimestamp", "namespace", "name"):
                if fixed in old["metadata"]:
                    meta[fixed] = old["metadata"][fixed]
            if "generation" not in meta or status:
                meta["generation"] = old["metadata"]["generation"]
            if "deletionTimestamp" in old["metadata"]:
                meta["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
            if _same(old, new):
                return copy.deepcopy(old)
            self._store((group, plural, ns, meta["name"]), new, "MODIFIED")
            return copy.deepcopy(new)

    def delete(self, group: str, plural: str, ns: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects.pop((group, plural, ns, name), None)
            if obj is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._event("DELETED", group, plural, obj)
            return copy.deepcopy(obj)

    def _store(self, key: Key, obj: Obj, kind: str) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[key] = obj
        self._event(kind, key[0], key[1], obj)

    def _event(self, kind: str, group: str, plural: str, obj: Obj) -> None:
        self.events.append(WatchEvent(self.rv, kind, group, plural, copy.deepcopy(obj)))
        del self.events[:-20000]
        self.changed.notify_all()

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            self.changed.notify_all()


def _same(old: Obj, new: Obj) -> bool:
    a = copy.deepcopy(old)
    b = copy.deepcopy(new)
    a["metadata"].pop("resourceVersion", None)
    b["metadata"].pop("resourceVersion", None)
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# -- selectors ---------------------------------------------------------------


def matches(obj: Obj, labels: str | None, fields: str | None) -> bool:
    return _labels_match(obj.get("metadata", {}).get("labels") or {}, labels) and (
        _fields_match(obj, fields)
    )


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current.strip())
    return terms


def _labels_match(labels: dict[str, str], selector: str | None) -> bool:
    for term in _split_terms(selector or ""):
        if " notin " in term or " in " in term:
            negate = " notin " in term
            key, values = term.split(" notin " if negate else " in ", 1)
            allowed = {v.strip() for v in values.strip().strip("()").split(",")}
            inside = labels.get(key.strip()) in allowed
            if inside == negate:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _fields_match(obj: Obj, selector: str | None) -> bool:
    for term in _split_terms(selector or ""):
        negate = "!=" in term
        path, value = term.replace("!=", "=").replace("==", "=").split("=", 1)
        actual: Any = obj
        for part in path.strip().split("."):
            actual = actual.get(part) if isinstance(actual, dict) else None
        if (str(actual) == value.strip()) == negate:
            return False
    return True


def selector_string(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


# -- patches -----------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A strategic merge patch as far as the fake needs: lists of named items
    merge by ``name``; directives (``$patch``, ``$setElementOrder``) are dropped."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and _named(value) and _named(result.get(key)):
            merged = {item["name"]: item for item in result.get(key) or []}
            for item in value:
                merged[item["name"]] = strategic_merge_patch(
                    merged.get(item["name"]), item
                )
            result[key] = list(merged.values())
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _named(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, dict) and "name" in item for item in value
    )


def json_patch(target: Obj, operations: list[Obj]) -> Obj:
    """RFC 6902: add, remove, replace, test, copy, move."""
    doc = copy.deepcopy(target)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "test":
            if _resolve(doc, path) != op.get("value"):
                raise ApiError(422, "Invalid", f"test operation failed at {path}")
        elif kind == "remove":
            parent, last = _parent(doc, path)
            _delete(parent, last, path)
        elif kind in ("add", "replace"):
            parent, last = _parent(doc, path)
            if kind == "replace":
                _resolve(doc, path)
            _put(parent, last, copy.deepcopy(op.get("value")), insert=kind == "add")
        elif kind in ("copy", "move"):
            value = copy.deepcopy(_resolve(doc, op.get("from", "")))
            if kind == "move":
                parent, last = _parent(doc, op.get("from", ""))
                _delete(parent, last, op.get("from", ""))
            parent, last = _parent(doc, path)
            _put(parent, last, value, insert=True)
        else:
            raise ApiError(422, "Invalid", f"unknown JSON patch operation {kind!r}")
    return doc


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"JSON pointer {path!r} must start with /")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _resolve(doc: Any, path: str) -> Any:
    for token in _tokens(path):
        try:
            doc = doc[int(token)] if isinstance(doc, list) else doc[token]
        except (KeyError, IndexError, ValueError):
            raise ApiError(422, "Invalid", f"path {path} does not exist") from None
    return doc


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise ApiError(422, "Invalid", "cannot patch the whole document")
    parent = (
        _resolve(
            doc,
            "/"
            + "/".join(t.replace("~", "~0").replace("/", "~1") for t in tokens[:-1]),
        )
        if len(tokens) > 1
        else doc
    )
    return parent, tokens[-1]


def _put(parent: Any, last: str, value: Any, *, insert: bool) -> None:
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if insert:
            parent.insert(index, value)
        else:
            parent[index] = value
    else:
        parent[last] = value


def _delete(parent: Any, last: str, path: str) -> None:
    try:
        if isinstance(parent, list):
            del parent[int(last)]
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError):
        raise ApiError(422, "Invalid", f"path {path} does not exist") from None
