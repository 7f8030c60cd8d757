"""How messages leave: e-mail over SMTP, SMS through a pluggable sender; the console in development;
webhooks (record systems' subscriptions) over HTTP (`notify.webhooks`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx

from sip_service.kit import clock
from sip_service.models.notify import Channel
from sip_service.notify import webhooks
from sip_service.settings import Settings

log = logging.getLogger("sip_service.notify")


@dataclass(frozen=True)
class Outgoing:
    """A message as a sender sees it (a copy of the outbox row, read outside any transaction)."""

    channel: Channel
    address: str
    subject: str
    body: str
    attachment_filename: str | None = None
    attachment_content_type: str | None = None
    attachment: str | None = None
    # a webhook's: the subscription's own headers, its signing secret, the notification's id
    headers: tuple[tuple[str, str], ...] = ()
    secret: str | None = field(default=None, repr=False)
    delivery_id: str | None = None


class Sender(Protocol):
    """Sends one message or raises; the outbox retries what raised."""

    async def send(self, message: Outgoing) -> None: ...


class ConsoleSender:
    """Development: the message is written to the log, whole and readable, instead of being sent
    (invite links included: never used in production)."""

    async def send(self, message: Outgoing) -> None:
        body = "\n".join(f"    {line}" if line else "" for line in message.body.rstrip("\n").split("\n"))
        attachment = f"\n    [attachment: {message.attachment_filename}]" if message.attachment else ""
        log.info(
            "%s to %s (development: written here, not sent)\n    Subject: %s\n\n%s%s",
            message.channel.value,
            message.address,
            message.subject,
            body,
            attachment,
        )


class Unconfigured:
    """Production without a way to send: messages stay pending, visibly, until one is configured."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def send(self, message: Outgoing) -> None:
        raise RuntimeError(f"no {self.what} is configured")


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout: float = 30,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.use_tls, self.start_tls, self.timeout = use_tls, start_tls, timeout

    def email(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        if message.attachment is not None:
            maintype, _, subtype = (message.attachment_content_type or "application/octet-stream").partition("/")
            subtype, *params = subtype.split(";")
            mail.add_attachment(
                message.attachment.encode(),
                maintype=maintype,
                subtype=subtype.strip(),
                filename=message.attachment_filename or "attachment",
                params=dict(p.strip().split("=", 1) for p in params if "=" in p),
            )
        return mail

    async def send(self, message: Outgoing) -> None:
        await aiosmtplib.send(
            self.email(message),
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
        )


class WebhookError(Exception):
    """The receiver did not take the notification (an answer other than 2xx); the outbox retries."""


class WebhookSender:
    """POSTs one notification (a record system's subscription), signed (`webhooks.signature`), with
    the subscription's own headers; no redirects followed, the answer's body never read, and the
    whole exchange (connect, send, the answer's head) bounded by `timeout_s`."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s

    async def send(self, message: Outgoing) -> None:
        if message.secret is None:
            raise WebhookError("no signing secret")
        body = message.body.encode()
        headers = dict(message.headers) | {
            "Content-Type": f"{webhooks.FHIR_JSON}; charset=utf-8",
            webhooks.SIGNATURE_HEADER: webhooks.signature(message.secret, body, int(clock.now().timestamp())),
            webhooks.DELIVERY_HEADER: message.delivery_id or "",
            "User-Agent": "SIP-tjansten-webhook/1",
        }
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout_s), follow_redirects=False, trust_env=False
        ) as client:
            async with asyncio.timeout(self.timeout_s):
                async with client.stream("POST", message.address, content=body, headers=headers) as answer:
                    status = answer.status_code
        if not 200 <= status < 300:
            raise WebhookError(f"the receiver answered {status}")


@dataclass
class Senders:
    email: Sender
    sms: Sender
    webhook: Sender | None = None  # None: notify.webhooks.WebhookSender with its default timeout

    def for_channel(self, channel: Channel) -> Sender:
        if channel is Channel.WEBHOOK:
            if self.webhook is None:
                self.webhook = WebhookSender()
            return self.webhook
        return self.email if channel is Channel.EMAIL else self.sms


def senders_for(settings: Settings, *, sms: Sender | None = None) -> Senders:
    """E-mail over SMTP when SIP_SMTP_HOST is set; otherwise the console in development. SMS has no
    provider yet: pass one (anything with `send`), or get the console in development."""
    email: Sender
    if settings.smtp_host:
        email = SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=settings.smtp_use_tls,
            start_tls=settings.smtp_start_tls,
        )
    elif settings.is_production:
        email = Unconfigured("SMTP host (SIP_SMTP_HOST)")
    else:
        email = ConsoleSender()
    if sms is None:
        sms = Unconfigured("SMS provider") if settings.is_production else ConsoleSender()
    return Senders(email, sms, WebhookSender(settings.webhook_timeout_s))
