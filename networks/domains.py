"""Organisation email domains: what may be claimed, how it is stored and shown, and the DNS TXT check.

A domain is stored in IDNA (punycode) form and shown in Unicode. Public webmail and disposable
domains (a shipped list, replaceable by `COGOV_WEBMAIL_DOMAINS_FILE`), IP literals, malformed
and over-long names can never be an organisation's domain. The check asks DNS for a TXT record
`cogov-verification=<token>` at the domain; a timeout or a server failure is "could not check
yet", never a verdict, so nothing is verified by error.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
import idna

from networks.models import DOMAIN_LENGTH
from services.kit.errors import InvalidInput

TXT_PREFIX = "cogov-verification="
MAX_LABEL = 63
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class DomainInvalid(InvalidInput):
    """This cannot be an organisation's domain."""

    code = "domain_invalid"


def webmail_domains(path: Path | None = None) -> frozenset[str]:
    """The webmail and disposable domains: the file at `path`, else the shipped list."""
    return _read_list(str(path)) if path else _shipped_list()


@cache
def _shipped_list() -> frozenset[str]:
    return _parse_list((files("networks") / "data" / "webmail_domains.txt").read_text(encoding="utf-8"))


@cache
def _read_list(path: str) -> frozenset[str]:
    return _parse_list(Path(path).read_text(encoding="utf-8"))


def _parse_list(text: str) -> frozenset[str]:
    lines = (line.split("#", 1)[0].strip().lower().rstrip(".") for line in text.splitlines())
    return frozenset(line for line in lines if line)


def parse_domain(raw: str, refused: frozenset[str]) -> str:
    """The domain in IDNA form, or `DomainInvalid` (422) saying why it cannot be an organisation's domain."""
    text = raw.strip().rstrip(".")
    if not text:
        raise DomainInvalid("A domain is needed, such as anatel.gov.br")
    if len(text) > DOMAIN_LENGTH:
        raise DomainInvalid(f"A domain has at most {DOMAIN_LENGTH} characters; this one has {len(text)}")
    if _is_ip_literal(text):
        raise DomainInvalid(f"{text!r} is an IP address; an organisation's domain is a name, such as anatel.gov.br")
    if "@" in text or "/" in text or ":" in text:
        raise DomainInvalid(f"{text!r} is not a domain: give the part after @ in your organisation's addresses, such as anatel.gov.br")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise DomainInvalid(f"{text!r} is not a valid domain name ({exc})") from exc
    if len(ascii_name) > DOMAIN_LENGTH:
        raise DomainInvalid(f"A domain has at most {DOMAIN_LENGTH} characters in its IDNA form; this one has {len(ascii_name)}")
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise DomainInvalid(f"{text!r} is not a valid domain name: it needs at least two parts, such as anatel.gov.br")
    if is_refused(ascii_name, refused):
        raise DomainInvalid(
            f"{display(ascii_name)} is a public webmail or disposable mail domain: anyone can have an address there, "
            "so it proves nothing about an organisation"
        )
    return ascii_name


def is_refused(domain: str, refused: frozenset[str]) -> bool:
    parts = domain.split(".")
    return any(".".join(parts[i:]) in refused for i in range(len(parts) - 1))


def _is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def display(domain: str) -> str:
    """The domain as people read it: Unicode labels for punycode ones."""
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


def covers(domain: str, address: str) -> bool:
    """Whether an email address is at this domain or one of its subdomains."""
    host = _ascii_host(address.rsplit("@", 1)[-1].lower().rstrip("."))
    if host is None:
        return False
    return host == domain or host.endswith("." + domain)


@lru_cache(maxsize=4096)
def _ascii_host(host: str) -> str | None:
    """The host in ASCII (punycode) form, None when it is not a valid name; remembered, as verification asks per member."""
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


class CheckOutcome(StrEnum):
    verified = "verified"
    absent = "absent"
    wrong_token = "wrong_token"
    not_yet = "not_yet"


@dataclass(frozen=True)
class Check:
    outcome: CheckOutcome
    message: str


def resolver(nameservers: list[str], timeout: float) -> dns.asyncresolver.Resolver:
    """An asynchronous resolver: the system's, or the listed servers ("host" or "host:port")."""
    if not nameservers:
        system = dns.asyncresolver.Resolver()
        system.lifetime = timeout
        return system
    configured = dns.asyncresolver.Resolver(configure=False)
    servers: list[str | dns.nameserver.Nameserver] = []
    for server in nameservers:
        host, port = _host_port(server)
        servers.append(dns.nameserver.Do53Nameserver(host, port))
    configured.nameservers = servers
    configured.lifetime = timeout
    configured.timeout = timeout
    return configured


def _host_port(server: str) -> tuple[str, int]:
    if server.startswith("["):  # [::1]:5353
        host, _, port = server[1:].partition("]:")
        return host, int(port or 53)
    if server.count(":") == 1:
        host, port = server.split(":")
        return host, int(port)
    return server, 53


async def check(dns_resolver: dns.asyncresolver.Resolver, domain: str, token: str) -> Check:
    """Ask DNS for `cogov-verification=<token>` at the domain; a failure to ask is `not_yet`, never a verdict."""
    try:
        answer = await dns_resolver.resolve(domain, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Check(CheckOutcome.absent, f"{display(domain)} does not exist in DNS")
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
        return Check(CheckOutcome.not_yet, f"could not check yet ({type(exc).__name__}): DNS did not answer; try again later")
    except dns.exception.DNSException as exc:
        return Check(CheckOutcome.not_yet, f"could not check yet ({type(exc).__name__}); try again later")
    values = [b"".join(record.strings).decode("utf-8", "replace") for record in (answer.rrset or [])]
    ours = [value for value in values if value.startswith(TXT_PREFIX)]
    if TXT_PREFIX + token in ours:
        return Check(CheckOutcome.verified, f"found {TXT_PREFIX}{token} at {display(domain)}")
    if ours:
        return Check(
            CheckOutcome.wrong_token, f"a {TXT_PREFIX} record at {display(domain)} holds another token; publish {TXT_PREFIX}{token}"
        )
    return Check(CheckOutcome.absent, f"no TXT record {TXT_PREFIX}{token} at {display(domain)} yet")
