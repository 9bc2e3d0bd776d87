"""Connection URLs as they may appear in audit rows and messages: no passwords."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``; other parts unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def host_port(url: str, default_port: int) -> str:
    """``host:port`` of a URL, for confirmations that name the server."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or default_port}"
