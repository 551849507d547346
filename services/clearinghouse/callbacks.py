"""Talking to WebSub subscribers' callbacks safely.

Only http(s) URLs; every address a callback's host resolves to is checked at connection time
(so DNS cannot point a checked name elsewhere later) and private, loopback, link-local and other
non-public ranges are refused unless COGOV_ALLOW_PRIVATE_CALLBACKS=1. Each exchange has one
overall timeout, redirects are not followed, and no more than 64 KiB of a response is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
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


def address_problem(address: str) -> str | None:
    """Why a resolved address may not be called (None when it is a public unicast address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "non-public"
    return None


async def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses of `host` a callback may use; CallbackRefused when it has none or any is not public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise CallbackRefused(f"the callback's host {host!r} does not resolve: {exc.strerror or exc}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise CallbackRefused(f"the callback's host {host!r} has no address")
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise CallbackRefused(
                    f"the callback's host {host!r} resolves to {address}, a {problem} address; "
                    "callbacks must be publicly reachable"
                )
    return addresses


async def check_reachable_address(url: str, allow_private: bool) -> None:
    """Refuse, before anything is stored, a callback whose host resolves to a forbidden address."""
    split = urlsplit(url)
    await resolve(split.hostname, split.port or (443 if split.scheme.lower() == "https" else 80), allow_private)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks every host at connection time, then connects to the checked address."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = await resolve(host, port, self._allow_private)
        except CallbackRefused as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return await self._inner.connect_tcp(addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
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

    async def request(self, method: str, url: str, *, params: dict | None = None, content: bytes | None = None, headers: dict | None = None) -> Reply:
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
