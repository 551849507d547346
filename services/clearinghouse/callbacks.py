"""Talking to WebSub subscribers' callbacks safely.

Only http(s) URLs; every address a callback's host resolves to is checked at connection time
(so DNS cannot point a checked name elsewhere later) and private, loopback, link-local and other
non-public ranges (one table, SPECIAL_RANGES, IPv6 forms judged by the IPv4 they carry) are refused
unless COGOV_ALLOW_PRIVATE_CALLBACKS=1. Each exchange has one
overall timeout, redirects are not followed, and no more than 64 KiB of a response is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

MAX_URL_LENGTH = 2000
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "CoGov-WebSub-Hub/1"


class CallbackRefused(ValueError):
    """The callback may not be called; the message says why."""


def check_url(url: str) -> str:
    """The callback URL if it is an absolute http(s) URL with a host, else CallbackRefused."""
    if len(url.encode()) > MAX_URL_LENGTH:
        raise CallbackRefused(f"hub.callback is longer than {MAX_URL_LENGTH} bytes")
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError as exc:
        raise CallbackRefused(f"hub.callback is not a valid URL: {exc}") from exc
    if split.scheme.lower() not in ("http", "https"):
        raise CallbackRefused(f"hub.callback must be an http or https URL, not {split.scheme or 'a relative'!r} one")
    if not split.hostname:
        raise CallbackRefused("hub.callback has no host")
    if split.username or split.password:
        raise CallbackRefused("hub.callback must not carry credentials")
    if split.fragment:
        raise CallbackRefused("hub.callback must not have a fragment")
    del port
    return url


# Every range a callback may not reach, first match wins: the non-global entries of the IANA IPv4 and
# IPv6 special-purpose registries, and the IPv6 forms that tunnel to IPv4 (6to4, Teredo, local NAT64).
SPECIAL_RANGES: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), name)
    for network, name in (
        ("0.0.0.0/8", "this network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible"),
        ("64:ff9b:1::/48", "NAT64 local-use"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Forms whose destination is exactly the IPv4 address they carry (a dual-stack socket, a DNS64 network):
# judged as that address. The other forms are refused whatever they carry.
REACHES_ITS_IPV4 = frozenset({"IPv4-mapped", "NAT64"})


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The name of the IPv6 transition form `ip` is in and the IPv4 addresses it carries, or None."""
    if (mapped := ip.ipv4_mapped) is not None:  # exactly the addresses in IPV4_MAPPED
        return "IPv4-mapped", [mapped]
    if ip in NAT64:
        return "NAT64", [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return "6to4", [ip.sixtofour]
    if ip.teredo is not None:
        return "Teredo", list(ip.teredo)
    if ip in IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are not IPv4
        return "IPv4-compatible", [ipaddress.IPv4Address(int(ip))]
    return None


def address_problem(address: str) -> str | None:
    """Why a resolved address may not be called (None when it is a public unicast address).

    One table decides (SPECIAL_RANGES); an IPv6 address carrying an IPv4 one is refused when that IPv4
    address would be, and Python's `is_global` refuses what the table does not name.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := embedded_ipv4(ip)) is not None:
        form, carried = embedded
        for ipv4 in carried:
            if (problem := address_problem(str(ipv4))) is not None:
                return f"{form}, embedding {ipv4}: {problem}"
        if form in REACHES_ITS_IPV4:
            return None
    for network, name in SPECIAL_RANGES:
        if ip.version == network.version and ip in network:
            return name
    return None if ip.is_global else "non-public"


async def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses of `host` a callback may use; CallbackRefused when it has none or any is not public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise CallbackRefused(f"the callback's host {host!r} does not resolve: {exc.strerror or exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise CallbackRefused(f"the callback's host {host!r} has no address")
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise CallbackRefused(
                    f"the callback's host {host!r} resolves to {address} ({problem}); callbacks must be publicly reachable"
                )
    return addresses


async def check_reachable_address(url: str, allow_private: bool) -> None:
    """Refuse, before anything is stored, a callback whose host resolves to a forbidden address."""
    split = urlsplit(url)
    if split.hostname is None:
        raise CallbackRefused("the callback's address names no host")
    await resolve(split.hostname, split.port or (443 if split.scheme.lower() == "https" else 80), allow_private)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks every host at connection time, then connects to the checked address."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port, self._allow_private)
        except CallbackRefused as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return await self._inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("callbacks are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, allow_private: bool, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its pool without a way to pass a network backend; this one is httpx's, plus ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private),
        )


@dataclass(frozen=True)
class Reply:
    """What a callback answered: a status and at most 64 KiB of body, or why nothing came."""

    status_code: int | None
    body: bytes
    error: str | None
    duration_ms: int
    # The subscriber's receipt token when it acknowledged the delivery (`X-CoGov-Receipt`, see followup.py).
    receipt: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class CallbackClient:
    """One HTTP client for every callback of a worker."""

    def __init__(self, *, allow_private: bool, timeout: float, concurrency: int = 32) -> None:
        self.timeout = timeout
        limits = httpx.Limits(max_connections=max(concurrency, 10), max_keepalive_connections=max(concurrency, 10))
        self._http = httpx.AsyncClient(
            transport=_GuardedTransport(allow_private, limits),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            check_url(url)
            async with asyncio.timeout(self.timeout):
                # Keep the callback's own query (a subscriber's token, say) and add ours.
                target = httpx.URL(url).copy_merge_params(params) if params else url
                request = self._http.build_request(method, target, content=content, headers=headers)
                response = await self._http.send(request, stream=True)
                try:
                    body = bytearray()
                    async for chunk in response.aiter_raw():
                        body += chunk
                        if len(body) >= MAX_RESPONSE_BYTES:
                            break
                    return Reply(
                        response.status_code, bytes(body[:MAX_RESPONSE_BYTES]), None, elapsed(), response.headers.get("x-cogov-receipt")
                    )
                finally:
                    await response.aclose()
        except TimeoutError:
            return Reply(None, b"", f"no answer within {self.timeout:g} s", elapsed())
        except CallbackRefused as exc:
            return Reply(None, b"", str(exc), elapsed())
        except httpx.HTTPError as exc:
            return Reply(None, b"", f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__, elapsed())

    async def aclose(self) -> None:
        await self._http.aclose()
