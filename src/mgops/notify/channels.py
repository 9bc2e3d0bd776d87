"""Channels a notification can leave by: Slack, email, signed webhook, console.

Each channel's ``send`` either returns (delivered) or raises ``DeliveryError``,
whose ``permanent`` flag says whether a retry could help: a Slack 404
``channel_not_found`` cannot, a Slack 503 or a refused SMTP connection can.
SMS and voice have no provider here; they fail permanently with a sentence that
says so, and the person's next step still runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger("mgops.notify")


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    id: int
    person: str
    channel: str
    destination: str
    subject: str
    text: str
    kind: str
    page_id: int | None
    incident_id: int | None
    ack_url: str | None = None


class Channel(Protocol):
    def send(self, message: Message) -> None: ...


class ConsoleChannel:
    """Writes the message to mgops's own log: the channel that always works."""

    def send(self, message: Message) -> None:
        logger.warning(
            "notification %s",
            message.subject,
            extra={
                "userId": message.person,
                "pageId": message.page_id,
                "incidentId": message.incident_id,
                "text": message.text,
            },
        )


class SlackChannel:
    """A Slack incoming webhook: Block Kit message, ``text`` always set."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def payload(self, message: Message) -> dict[str, object]:
        blocks: list[dict[str, object]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": message.subject[:150]},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": message.text[:3000]},
            },
        ]
        if message.ack_url:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "style": "primary",
                            "url": message.ack_url,
                            "text": {"type": "plain_text", "text": "Acknowledge"},
                            "action_id": f"ack-{message.page_id}",
                        }
                    ],
                }
            )
        return {"text": f"{message.subject}\n{message.text}", "blocks": blocks}

    def send(self, message: Message) -> None:
        if not message.destination.startswith(("https://", "http://")):
            raise DeliveryError(
                f"The Slack contact {message.destination!r} is not an incoming-webhook "
                "URL; set one with mgops person update.",
                permanent=True,
            )
        try:
            response = self.client.post(message.destination, json=self.payload(message))
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"Slack did not answer: {exc}", permanent=False
            ) from None
        if response.status_code == 200:
            return
        reason = response.text.strip()[:200] or str(response.status_code)
        permanent = 400 <= response.status_code < 500 and response.status_code != 429
        raise DeliveryError(
            f"Slack answered {response.status_code} {reason}", permanent=permanent
        )


@dataclass
class SmtpSettings:
    host: str
    port: int
    sender: str
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme != "smtp" or not parts.hostname:
            raise ValueError(f"{url!r} is not an smtp://host:port URL")
        return cls(host=parts.hostname, port=parts.port or 25, sender=sender)


class EmailChannel:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = message.destination
        mail["Subject"] = message.subject
        body = message.text
        if message.ack_url:
            body += f"\n\nAcknowledge: {message.ack_url}"
        mail.set_content(body)
        try:
            with smtplib.SMTP(
                self.settings.host, self.settings.port, timeout=self.settings.timeout
            ) as smtp:
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"The mail server refused {message.destination}: {exc}", permanent=True
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"The mail server did not take the message: {exc}", permanent=False
            ) from None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel:
    """A JSON POST signed with HMAC-SHA256 over ``timestamp + "." + body``.

    Receivers check ``X-Mgops-Signature`` against their copy of the secret and
    reject a ``X-Mgops-Timestamp`` older than a few minutes (replays).
    """

    def __init__(self, client: httpx.Client, secret: str) -> None:
        self.client = client
        self.secret = secret

    def send(self, message: Message) -> None:
        body = json.dumps(
            {
                "id": message.id,
                "kind": message.kind,
                "person": message.person,
                "subject": message.subject,
                "text": message.text,
                "page_id": message.page_id,
                "incident_id": message.incident_id,
                "ack_url": message.ack_url,
            }
        ).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Mgops-Timestamp": stamp,
            "X-Mgops-Signature": sign(self.secret, stamp, body),
        }
        try:
            response = self.client.post(
                message.destination, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"The webhook did not answer: {exc}", permanent=False
            ) from None
        if response.status_code >= 300:
            raise DeliveryError(
                f"The webhook answered {response.status_code}",
                permanent=400 <= response.status_code < 500
                and response.status_code != 429,
            )


class NotConfiguredChannel:
    def __init__(self, what: str) -> None:
        self.what = what

    def send(self, message: Message) -> None:
        raise DeliveryError(
            f"{self.what} is not configured: mgops has no {self.what} provider set "
            "up, so this step cannot be delivered (the rule's other steps still run).",
            permanent=True,
        )


@dataclass
class Channels:
    """The channel for each contact kind, built from settings."""

    by_kind: dict[str, Channel] = field(default_factory=dict)

    def for_kind(self, kind: str) -> Channel:
        return self.by_kind.get(kind) or NotConfiguredChannel(kind)


def build_channels(
    *,
    smtp_url: str | None = None,
    smtp_from: str = "mgops@localhost",
    webhook_secret: str | None = None,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> Channels:
    client = httpx.Client(timeout=timeout, transport=transport)
    kinds: dict[str, Channel] = {
        "console": ConsoleChannel(),
        "slack": SlackChannel(client),
        "sms": NotConfiguredChannel("SMS"),
        "phone": NotConfiguredChannel("Voice calling"),
    }
    if smtp_url:
        kinds["email"] = EmailChannel(SmtpSettings.from_url(smtp_url, smtp_from))
    else:
        kinds["email"] = NotConfiguredChannel("Email (MGOPS_SMTP_URL)")
    if webhook_secret:
        kinds["webhook"] = WebhookChannel(client, webhook_secret)
    else:
        kinds["webhook"] = NotConfiguredChannel(
            "The webhook secret (MGOPS_WEBHOOK_SECRET)"
        )
    return Channels(kinds)
