"""User sessions and rate-limit counters, by the key names the gateway uses.

Sessions live under ``session:user:<user id>:<session id>``; rate-limit counters
under ``rate_limit:user:<user id>`` and ``rate_limit:ip:<address>`` (a limiter
with windows may add ``:<window>`` suffixes, which a reset removes too). The id
is escaped before it goes into a SCAN pattern, so ``42`` never matches ``420``
and an id holding ``*`` matches only itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mgops.audit import audited
from mgops.errors import InputError
from mgops.runbooks.redis.client import RedisTarget, show_key, translated
from mgops.runbooks.redis.delete import PatternReport, delete_pattern
from mgops.runbooks.redis.keys import escape_glob, scan_all, unlink_keys
from mgops.store.db import Store

SESSION_PREFIX = b"session:user:"
RATE_LIMIT_PREFIX = b"rate_limit:"


def _id_bytes(value: str, what: str) -> bytes:
    if not value:
        raise InputError(f"The {what} must not be empty.")
    return value.encode("utf-8")


def session_pattern(user_id: str) -> bytes:
    """The SCAN pattern for one user's sessions, with the id escaped."""
    return SESSION_PREFIX + escape_glob(_id_bytes(user_id, "user id")) + b":*"


@dataclass
class SessionKey:
    key: str
    ttl_seconds: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "ttl_seconds": self.ttl_seconds}


def list_sessions(*, target: RedisTarget, user_id: str) -> list[SessionKey]:
    """Every session key of the user with its TTL (None: no expiry)."""
    found: list[SessionKey] = []
    for client, keys in scan_all(target, session_pattern(user_id)):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.ttl(key)
        with translated(target.where):
            ttls = pipe.execute()
        for key, ttl in zip(keys, ttls, strict=True):
            if int(ttl) == -2:  # expired between SCAN and TTL
                continue
            found.append(SessionKey(show_key(key), None if ttl == -1 else int(ttl)))
    return sorted(found, key=lambda s: s.key)


def session_ttl(*, target: RedisTarget, session_id: str) -> SessionKey | None:
    """The TTL of ``session:<session id>`` (the runbook's TTL command); None if gone."""
    key = b"session:" + _id_bytes(session_id, "session id")
    with translated(target.where):
        ttl = int(target.client.ttl(key))
    if ttl == -2:
        return None
    return SessionKey(show_key(key), None if ttl == -1 else ttl)


def invalidate_sessions(
    *,
    target: RedisTarget,
    store: Store,
    user_id: str,
    incident_id: int | None = None,
) -> PatternReport:
    """Delete every session of the user (SCAN + UNLINK), audited."""
    return delete_pattern(
        target=target,
        store=store,
        pattern=session_pattern(user_id),
        apply=True,
        incident_id=incident_id,
        kind="redis.sessions-invalidate",
    )


def reset_rate_limit(
    *,
    target: RedisTarget,
    store: Store,
    user_id: str | None = None,
    ip: str | None = None,
    incident_id: int | None = None,
) -> dict[str, Any]:
    """Remove the user's or the address's rate-limit counters, audited."""
    if (user_id is None) == (ip is None):
        raise InputError("Give exactly one of --user ID or --ip ADDRESS.")
    scope, value = ("user", user_id) if user_id is not None else ("ip", ip)
    key = RATE_LIMIT_PREFIX + scope.encode() + b":" + _id_bytes(str(value), scope)
    with audited(
        store,
        kind="redis.ratelimit-reset",
        target=target.where,
        params={scope: value},
        incident_id=incident_id,
    ) as action:
        deleted: list[str] = []
        with translated(target.where):
            if target.client.unlink(key):
                deleted.append(show_key(key))
        for client, keys in scan_all(target, escape_glob(key) + b":*"):
            unlink_keys(target, client, keys)
            deleted.extend(show_key(k) for k in keys)
        action.result["deleted"] = deleted
        return {"scope": scope, "id": value, "deleted": deleted}
