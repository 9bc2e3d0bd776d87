"""One connection to a Redis deployment, standalone or cluster, with short timeouts.

``connect(url)`` asks the server whether it runs in cluster mode and returns a
``RedisTarget`` that hides the difference: ``primaries()`` lists one client per
primary (a single one for a standalone server), so every scanning command covers
the whole keyspace. Errors from redis-py are translated here into mgops errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import RedisCluster

from mgops.errors import InputError, TargetError, TargetUnreachable, Unauthorized
from mgops.runbooks.urls import host_port, redact_url

SOCKET_TIMEOUT = 5.0
CONNECT_TIMEOUT = 3.0


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn redis-py exceptions into mgops errors that name the server."""
    try:
        yield
    except redis.AuthenticationError:
        raise Unauthorized(f"Redis at {where} refused the credentials.") from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise TargetUnreachable(
            f"Redis at {where} did not answer ({exc}); check the URL and the "
            "port-forward."
        ) from None
    except redis.ResponseError as exc:
        raise TargetError(f"Redis at {where} said: {exc}.") from None
    except redis.RedisError as exc:
        raise TargetError(f"Redis at {where} failed: {exc}.") from None


@dataclass
class RedisTarget:
    """A standalone server or a cluster, reached through one URL."""

    url: str
    client: redis.Redis[bytes] | RedisCluster[bytes]
    cluster: bool
    db: int

    @property
    def where(self) -> str:
        return redact_url(self.url)

    @property
    def host(self) -> str:
        return host_port(self.url, 6379)

    def primaries(self) -> list[tuple[str, redis.Redis[bytes]]]:
        """``(host:port, client)`` for every primary that owns keys."""
        if isinstance(self.client, RedisCluster):
            with translated(self.where):
                return [
                    (f"{n.host}:{n.port}", self.client.get_redis_connection(n))
                    for n in self.client.get_primaries()
                ]
        return [(self.host, self.client)]

    def key_slot(self, key: bytes) -> int:
        if isinstance(self.client, RedisCluster):
            return int(self.client.keyslot(key))
        return 0

    def close(self) -> None:
        self.client.close()


def connect(url: str, *, timeout: float = SOCKET_TIMEOUT) -> RedisTarget:
    """Connect, detect cluster mode, and return the target; nothing is changed."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise InputError(f"{url!r} is not a Redis URL (redis://host:port/db).")
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "decode_responses": False,
    }
    where = redact_url(url)
    with translated(where):
        single = redis.Redis.from_url(url, **options)
        info = single.info("cluster")
        db = int(single.connection_pool.connection_kwargs.get("db", 0) or 0)
        if not int(info.get("cluster_enabled", 0)):
            return RedisTarget(url=url, client=single, cluster=False, db=db)
        single.close()
        if db:
            raise InputError(f"{where}: a Redis Cluster has only database 0.")
        cluster: RedisCluster[bytes] = RedisCluster.from_url(url, **options)
        return RedisTarget(url=url, client=cluster, cluster=True, db=0)


def show_key(key: bytes) -> str:
    """A key for people: UTF-8 where it is, ``\\xNN`` for other bytes and controls."""
    text = key.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape_char(c) for c in text)


def _escape_char(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
