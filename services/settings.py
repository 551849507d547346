"""Runtime configuration: every value comes from a `COGOV_` environment variable or a laptop default."""

from __future__ import annotations

import secrets
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, FilePath, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Values copied from examples and tutorials; a server started with one of them would sign forgeable tokens.
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "secret-key",
        "secretkey",
        "your-secret-key",
        "please-change-me",
        "dev",
        "development",
        "insecure",
        "cogov",
        "test",
        "password",
    }
)
MIN_SECRET_LENGTH = 32


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says which variable and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COGOV_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/cogov.db"
    # SQLite only. FULL (default) fsyncs every commit: a stored edit survives a power cut. NORMAL in WAL
    # mode skips that fsync (commits ~4 ms faster on a plain disk) and survives a crash of CoGov, but a
    # power cut or OS crash may lose the last commits, acknowledged edits included. Choose it knowingly.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    base_url: str = "http://127.0.0.1:8000"
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    access_token_minutes: int = Field(default=60 * 12, ge=1, le=60 * 24 * 30)
    data_dir: Path = Path("var")
    taxonomy_file: Path | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Norm documents: a snapshot every N stored changes bounds load time; limits bound one norm and one submission.
    snapshot_every: int = Field(default=1000, ge=1)
    norm_max_chars: int = Field(default=1_000_000, ge=1)
    submission_max_ops: int = Field(default=100_000, ge=1)
    submission_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # Diffs: the time one diff may spend aligning two texts (past it, the answer is coarser), the
    # characters of compared texts whose diffs are kept, and the worker threads that compute them.
    diff_seconds: float = Field(default=0.5, gt=0, le=30)
    diff_cache_chars: int = Field(default=16_000_000, ge=0)
    diff_workers: int = Field(default=2, ge=1, le=32)
    # A loaded document nobody has used for this long is dropped from memory.
    document_idle_seconds: float = Field(default=300, gt=0)
    # Live sync: ticket lifetime, limits per socket, and how often sockets are re-checked and rooms caught up.
    sync_ticket_seconds: int = Field(default=60, ge=1, le=3600)
    sync_max_frame_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    sync_max_messages_per_second: int = Field(default=200, ge=1)
    # Open sockets one participant may hold on one instance (each browser tab holds one), so the
    # per-socket message limit cannot be multiplied at will.
    sync_max_sockets_per_participant: int = Field(default=32, ge=1)
    # Open signed-out (reading) sockets from one client address on one instance; more are refused at the
    # handshake with 429. Behind a proxy, list it in forwarded_allow_ips, or every reader is the proxy.
    sync_anonymous_per_address: int = Field(default=20, ge=1)
    sync_max_ephemeral_bytes: int = Field(default=64 * 1024, ge=64)
    sync_outbox_limit: int = Field(default=5000, ge=10)
    # A document's peers hear of new changes at most this often (the first change after a pause at once)...
    sync_batch_seconds: float = Field(default=0.1, ge=0, le=1)
    # ...and a room of few peers for less: n peers wait at most n times this between rounds. A round costs a
    # message per peer, so up to the cap above a room's rounds send at most about 1 / this messages a second,
    # while two people typing (whose editors already batch keystrokes) are not each held up to 0.1 s.
    sync_batch_seconds_per_peer: float = Field(default=0.005, ge=0, le=1)
    # A peer that has not answered the last changes it was sent gets no more until it does, or this long
    # has passed: a slow peer then gets fewer, larger messages instead of a queue of small ones.
    sync_answer_seconds: float = Field(default=1.0, gt=0, le=30)
    sync_revalidate_seconds: float = Field(default=2.0, gt=0)
    sync_catch_up_seconds: float = Field(default=5.0, gt=0)
    # Clearing house: the Ed25519 key signing adoption records (PEM or base64url seed; default: a
    # key generated into data_dir), the worker that publishes and delivers, and WebSub callbacks.
    publication_key: SecretStr | None = None
    worker_in_serve: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    allow_private_callbacks: bool = False
    callback_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    delivery_retry_hours: float = Field(default=72.0, ge=24)
    delivery_concurrency: int = Field(default=32, ge=1, le=1000)
    # Tries of one adoption's publication (backoff between them) before it is marked failed for staff.
    publication_attempts: int = Field(default=10, ge=1, le=100)
    # The worker signs a new head of the audit log's Merkle tree whenever the newest is this old (and
    # publication signs one with every adoption), so a subscriber's latest head is never much older.
    tree_head_seconds: float = Field(default=3600.0, gt=0)
    # The worker re-indexes a norm's live text at most this long after it changes (never on the sync path).
    search_reindex_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Mail: `smtp://user:pass@host:587` (STARTTLS when the server offers it), `smtps://…:465` (TLS from
    # the start); unset, each mail is written to the Maildir `data_dir/mail/` and its links are logged.
    smtp_url: SecretStr | None = None
    # Certificate authorities (a PEM file) trusted for the SMTP server besides the system's: a private CA.
    smtp_ca_file: FilePath | None = None
    mail_from: str = "CoGov <cogov@localhost>"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # SMTP connections one worker sends over at once; a mail not handed over by then is marked failed.
    mail_concurrency: int = Field(default=4, ge=1, le=100)
    mail_retry_hours: float = Field(default=48.0, gt=0)
    # Verified affiliations: participants who must vouch for one (each verified in the same group, from
    # different organisations); the DNS servers asked for `cogov-verification=` TXT records ("host" or
    # "host:port", comma-separated; unset: the system's resolver) and how long one check may take; a file of
    # public webmail and disposable domains replacing the shipped list (one domain a line, # comments).
    vouches_needed: int = Field(default=2, ge=1, le=20)
    dns_nameservers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webmail_domains_file: FilePath | None = None
    log_level: str = "info"
    log_json: bool = False
    # Rate limits ("N/second|minute|hour|day", several joined by ";"): sign-in and sign-up per client
    # address, writes per participant (else per address); and failed sign-ins per account and per address.
    rate_limits_enabled: bool = True
    rate_limit_auth: str = "60/minute"
    rate_limit_writes: str = "120/minute"
    # Mails one person may cause: verification resends per account, password resets per address.
    rate_limit_mail: str = "5/hour"
    login_failures_per_minute: int = Field(default=10, ge=0)
    # Password hashing (argon2, ~0.2 s of CPU and 64 MiB each) runs in a pool of its own, off the event loop:
    # this many at once, and this many more waiting; past that a sign-in or sign-up answers 503 with Retry-After.
    password_hash_workers: int = Field(default=2, ge=1, le=64)
    password_hash_waiting: int = Field(default=32, ge=0, le=10_000)
    # Unset: /metrics answers loopback clients only; set: anyone sending it as a bearer token.
    metrics_token: SecretStr | None = None
    # Proxies whose X-Forwarded-For/-Proto are believed (comma-separated addresses or networks, "*": any):
    # rate limits count per client address, so behind a proxy it must be listed, or every client is the proxy.
    forwarded_allow_ips: str = "127.0.0.1"
    # Strict-Transport-Security max-age, sent when base_url is https (0: never).
    hsts_seconds: int = Field(default=365 * 24 * 3600, ge=0)
    # Cookies marked Secure; unset: when base_url is https.
    secure_cookies: bool | None = None

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("dns_nameservers", mode="before")
    @classmethod
    def _split_nameservers(cls, value: object) -> object:
        if isinstance(value, str):
            return [server.strip() for server in value.split(",") if server.strip()]
        return value

    @field_validator("rate_limit_auth", "rate_limit_writes", "rate_limit_mail")
    @classmethod
    def _parse_limits(cls, value: str) -> str:
        from limits import parse_many

        parse_many(value)  # a ValueError names what is wrong
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and urlsplit(value.get_secret_value()).scheme not in {"smtp", "smtps"}:
            raise ValueError("COGOV_SMTP_URL must start with smtp:// (STARTTLS) or smtps:// (TLS)")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        _name, address = parseaddr(value)
        if "\r" in value or "\n" in value or "@" not in address:
            raise ValueError("COGOV_MAIL_FROM must be one address, such as 'CoGov <cogov@example.org>'")
        return value

    @field_validator(
        "redis_url",
        "taxonomy_file",
        "publication_key",
        "metrics_token",
        "secure_cookies",
        "smtp_url",
        "smtp_ca_file",
        "webmail_domains_file",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def serves_https(self) -> bool:
        return self.base_url.lower().startswith("https://")

    @property
    def cookies_secure(self) -> bool:
        return self.serves_https if self.secure_cookies is None else self.secure_cookies

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def signing_key(self) -> str:
        """The secret that signs tokens: from COGOV_SECRET_KEY, else `data_dir/secret.key`, created on first use."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            check_secret(value, "COGOV_SECRET_KEY")
            return value
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48) + "\n")
            path.chmod(0o600)
        value = path.read_text().strip()
        check_secret(value, str(path))
        return value


def check_secret(value: str, source: str) -> None:
    """Refuse a secret that is a well-known placeholder or too short to resist guessing."""
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        raise SettingsError(f"{source} is a well-known placeholder; set a random value of at least {MIN_SECRET_LENGTH} characters")
    if len(value) < MIN_SECRET_LENGTH:
        raise SettingsError(f"{source} is {len(value)} characters long; it must have at least {MIN_SECRET_LENGTH}")
