"""qdrant-client behind one wrapper: REST with a short timeout, or local mode.

``connect("http://127.0.0.1:6333")`` talks REST (never gRPC, never a default
host); ``connect("local::memory:")`` or ``connect("local:/path")`` uses
qdrant-client's embedded local mode, which knows collections but has no
snapshots, optimizers or cluster. Errors from qdrant-client and httpx are
translated here into mgops errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from mgops.errors import (
    InputError,
    NotFound,
    TargetError,
    TargetUnreachable,
    Unauthorized,
)
from mgops.runbooks.urls import redact_url

TIMEOUT_SECONDS = 10
LOCAL_PREFIX = "local:"


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn qdrant-client and httpx exceptions into mgops errors."""
    try:
        yield
    except UnexpectedResponse as exc:
        detail = _error_text(exc)
        if exc.status_code == 404:
            raise NotFound(f"Qdrant at {where}: {detail}.") from None
        if exc.status_code in (401, 403):
            raise Unauthorized(f"Qdrant at {where} refused the API key.") from None
        raise TargetError(
            f"Qdrant at {where} answered {exc.status_code}: {detail}."
        ) from None
    except (ResponseHandlingException, httpx.TransportError) as exc:
        raise TargetUnreachable(f"Qdrant at {where} did not answer: {exc}.") from None
    except NotImplementedError:
        raise InputError(
            f"{where} is qdrant-client's local mode, which cannot do this; "
            "point --url at a Qdrant server."
        ) from None
    except ValueError as exc:  # local mode reports a missing collection this way
        if "not found" in str(exc).lower():
            raise NotFound(f"Qdrant at {where}: {exc}.") from None
        raise TargetError(f"Qdrant at {where}: {exc}.") from None


def _error_text(exc: UnexpectedResponse) -> str:
    try:
        body = exc.structured()
        return str((body.get("status") or {}).get("error") or body)
    except Exception:  # a body that is not JSON
        return exc.reason_phrase or f"HTTP {exc.status_code}"


@dataclass
class QdrantTarget:
    """A Qdrant server (REST) or a local-mode store, plus its HTTP base for files."""

    url: str
    client: QdrantClient
    api_key: str | None = None
    timeout: float = TIMEOUT_SECONDS

    @property
    def where(self) -> str:
        return redact_url(self.url)

    @property
    def local(self) -> bool:
        return self.url.startswith(LOCAL_PREFIX)

    def http(self) -> httpx.Client:
        """A plain HTTP client for what qdrant-client does not do (downloads)."""
        if self.local:
            raise InputError(f"{self.where} is local mode: there is no HTTP server.")
        headers = {"api-key": self.api_key} if self.api_key else {}
        return httpx.Client(
            base_url=self.url.rstrip("/"), headers=headers, timeout=self.timeout
        )

    def close(self) -> None:
        self.client.close()


def connect(
    url: str, *, api_key: str | None = None, timeout: float = TIMEOUT_SECONDS
) -> QdrantTarget:
    """A target for ``url``: ``http(s)://host:port`` or ``local:PATH|:memory:``."""
    options: dict[str, Any]
    if url.startswith(LOCAL_PREFIX):
        location = url[len(LOCAL_PREFIX) :] or ":memory:"
        options = (
            {"location": ":memory:"} if location == ":memory:" else {"path": location}
        )
    elif url.startswith(("http://", "https://")):
        options = {
            "url": url,
            "api_key": api_key,
            "timeout": int(timeout),
            "prefer_grpc": False,
            "check_compatibility": False,
        }
    else:
        raise InputError(
            f"{url!r} is not a Qdrant URL (http://host:6333, or local:PATH)."
        )
    with translated(redact_url(url)):
        client = QdrantClient(**options)
    return QdrantTarget(url=url, client=client, api_key=api_key, timeout=timeout)
