"""Handing a mail over: to an SMTP server (`COGOV_SMTP_URL`), or, when none is configured, into the
Maildir `$COGOV_DATA_DIR/mail/` with its subject and links logged, so a laptop needs no mail server."""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import unquote, urlsplit

import aiosmtplib
import structlog

from services.mail.message import links, text_of
from services.settings import Settings

log = structlog.get_logger()


@dataclass(frozen=True)
class Handed:
    """What became of one hand-over: taken, refused for good (a 5xx answer), or to be tried again."""

    ok: bool
    permanent: bool = False
    error: str | None = None


SENT = Handed(ok=True)

Send = Callable[[str, bytes], Awaitable[Handed]]


class Transport(Protocol):
    def round(self) -> AbstractAsyncContextManager[Send]:
        """A round of hand-overs: the `Send` it yields may be called many times at once, until the block ends."""
        ...


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)


class MaildirTransport:
    """Each mail becomes a file in a Maildir (written in a thread); its subject and links go to the log."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def box(self) -> mailbox.Maildir:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return mailbox.Maildir(self.path, create=True)

    def round(self) -> AbstractAsyncContextManager[Send]:
        return _maildir_round(self)


@asynccontextmanager
async def _maildir_round(transport: MaildirTransport) -> AsyncIterator[Send]:
    box = await asyncio.to_thread(transport.box)

    async def send(recipient: str, raw: bytes) -> Handed:
        try:
            await asyncio.to_thread(box.add, raw)
        except OSError as exc:
            return Handed(ok=False, error=f"cannot write to the Maildir {transport.path}: {exc}")
        message = parse(raw)
        log.info("mail_written", to=recipient, subject=str(message["Subject"]), links=links(text_of(message)), maildir=str(transport.path))
        return SENT

    yield send


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        implicit_tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 587),
            implicit_tls=implicit_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class ClearTextRefused(Exception):
    """The server offers no TLS, and the URL carries credentials that must not cross the network in clear."""


class SmtpTransport:
    """Mail handed to an SMTP server: STARTTLS when the server offers it (`smtp://`), TLS from the start
    (`smtps://`); certificates always verified, against the system's authorities and `ca_file` if given.
    Credentials are only ever sent over TLS. A round opens up to `connections` connections and sends
    over them in turn."""

    def __init__(self, server: SmtpServer, sender: str, *, timeout: float, connections: int, ca_file: Path | None = None) -> None:
        self.server = server
        self.envelope_sender = parseaddr(sender)[1]
        self.timeout = timeout
        self.connections = connections
        self.ca_file = ca_file

    def client(self) -> aiosmtplib.SMTP:
        # No credentials here: aiosmtplib would log in on connect even without TLS; `connect` logs in itself.
        return aiosmtplib.SMTP(
            hostname=self.server.hostname,
            port=self.server.port,
            use_tls=self.server.implicit_tls,
            start_tls=None if not self.server.implicit_tls else False,
            validate_certs=True,
            cert_bundle=str(self.ca_file) if self.ca_file is not None else None,
            timeout=self.timeout,
        )

    async def connect(self) -> aiosmtplib.SMTP:
        """A connected client, upgraded to TLS when the server offers it and logged in if the URL says so."""
        client = self.client()
        await client.connect()
        if self.server.username is not None:
            if client.get_transport_info("sslcontext") is None:
                client.close()
                raise ClearTextRefused(
                    f"the SMTP server {self.server.hostname}:{self.server.port} offers no STARTTLS: "
                    "CoGov does not send the password of COGOV_SMTP_URL in clear (use smtps:// or a server that offers STARTTLS)"
                )
            try:
                await client.login(self.server.username, self.server.password or "")
            except BaseException:
                client.close()
                raise
        return client

    def round(self) -> AbstractAsyncContextManager[Send]:
        return _smtp_round(self)


@asynccontextmanager
async def _smtp_round(transport: SmtpTransport) -> AsyncIterator[Send]:
    idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
    opened: list[aiosmtplib.SMTP] = []
    gate = asyncio.Semaphore(transport.connections)

    async def send(recipient: str, raw: bytes) -> Handed:
        async with gate:
            client = idle.get_nowait() if not idle.empty() else None
            try:
                if client is None:
                    client = await transport.connect()
                    opened.append(client)
                await client.sendmail(transport.envelope_sender, [recipient], raw)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                code = min((refusal.code for refusal in exc.recipients), default=0)
                idle.put_nowait(cast(aiosmtplib.SMTP, client))
                return Handed(ok=False, permanent=500 <= code < 600, error=f"the server refused the address: {code} {exc}")
            except aiosmtplib.SMTPResponseException as exc:
                if client is not None and client.is_connected:
                    idle.put_nowait(client)
                return Handed(ok=False, permanent=500 <= exc.code < 600, error=f"the server answered {exc.code} {exc.message}")
            except ClearTextRefused as exc:
                log.error("smtp_clear_text_refused", server=f"{transport.server.hostname}:{transport.server.port}", error=str(exc))
                return Handed(ok=False, error=str(exc))
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return Handed(ok=False, error=f"cannot reach the SMTP server {transport.server.hostname}:{transport.server.port}: {exc!r}")
            idle.put_nowait(client)
            return SENT

    try:
        yield send
    finally:
        for client in opened:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()


def for_settings(settings: Settings) -> Transport:
    """SMTP when `COGOV_SMTP_URL` is set, else the Maildir under the data directory."""
    if settings.smtp_url is None:
        return MaildirTransport(maildir_path(settings))
    return SmtpTransport(
        SmtpServer.from_url(settings.smtp_url.get_secret_value()),
        settings.mail_from,
        timeout=settings.smtp_timeout_seconds,
        connections=settings.mail_concurrency,
        ca_file=settings.smtp_ca_file,
    )


def maildir_path(settings: Settings) -> Path:
    return settings.data_dir / "mail"


def _delivered(key: str) -> tuple[int, int, str]:
    # Maildir names begin `<seconds>.M<microseconds>P<pid>…`: the order they were written in.
    seconds, _, rest = key.partition(".")
    micro = rest[1:].partition("P")[0] if rest.startswith("M") else ""
    return (int(seconds) if seconds.isdigit() else 0, int(micro) if micro.isdigit() else 0, key)


def stored(path: Path) -> list[EmailMessage]:
    """The mails in the Maildir at `path`, oldest first (none if it does not exist)."""
    if not path.exists():
        return []
    box = mailbox.Maildir(path, create=False)
    return [parse(box.get_bytes(key)) for key in sorted(box.keys(), key=_delivered)]
