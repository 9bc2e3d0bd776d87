"""Signed acknowledgement links: a page can be acknowledged from the message.

The link carries the page id, an expiry and an HMAC-SHA256 of both under the
server's secret (``MGOPS_SECRET``, else one generated once and kept in the
store). Opening the link shows a confirmation; only the POST acknowledges, so
link previews and mail scanners that fetch URLs acknowledge nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

from mgops.oncall.paging_models import Meta
from mgops.store.db import Store

LINK_LIFETIME = 7 * 24 * 3600


def server_secret(store: Store) -> str:
    explicit = os.environ.get("MGOPS_SECRET")
    if explicit:
        return explicit
    with store.session() as session:
        row = session.get(Meta, "link-secret")
        if row is None:
            row = Meta(key="link-secret", value=secrets.token_hex(32))
            session.add(row)
        return row.value


@dataclass(frozen=True)
class LinkSigner:
    secret: str
    base_url: str | None

    def signature(self, page_id: int, expires: int) -> str:
        payload = f"ack:{page_id}:{expires}".encode()
        return hmac.new(self.secret.encode(), payload, hashlib.sha256).hexdigest()

    def ack_url(self, page_id: int) -> str | None:
        if not self.base_url:
            return None
        expires = int(time.time()) + LINK_LIFETIME
        sig = self.signature(page_id, expires)
        return f"{self.base_url.rstrip('/')}/ack/{page_id}?exp={expires}&sig={sig}"

    def check(self, page_id: int, expires: int, sig: str) -> bool:
        if expires < time.time():
            return False
        return hmac.compare_digest(self.signature(page_id, expires), sig)
