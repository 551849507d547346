"""ASGI middleware: a request id in every log line and response, a cap on request bodies, request
metrics and access log lines, and security headers (a Content-Security-Policy for pages among them)."""

from __future__ import annotations

import re
import secrets
import time
import uuid

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit import metrics

access_log = structlog.get_logger("cogov.access")


class BodySizeLimit:
    """Answer 413 for a body over `limit` bytes: by its Content-Length before reading, else once it streams past.

    (Starlette's own limiter answers in plain text; ours keeps every error JSON.)
    """

    def __init__(self, app: ASGIApp, limit: int, overrides: dict[re.Pattern, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.overrides = overrides or {}

    def _limit_for(self, path: str) -> int:
        return next((limit for pattern, limit in self.overrides.items() if pattern.match(path)), self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        too_large = HTTPException(413, f"Request body larger than the limit of {limit} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await JSONResponse({"detail": "Invalid Content-Length header", "code": "bad_request"}, 400)(scope, receive, send)
            return
        if declared is not None and int(declared) > limit:
            await JSONResponse({"detail": too_large.detail, "code": "content_too_large"}, 413)(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException passes through FastAPI's body parsing to the JSON error handler.
                    raise too_large
            return message

        await self.app(scope, limited_receive, send)


class RequestId:
    """Give every request an id (the client's X-Request-ID if sane), bind it to logs and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if 0 < len(supplied) <= 64 and supplied.isprintable() else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, path=scope.get("path"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


class RequestMetrics:
    """Time every HTTP request into the latency histogram by route template, and log one line for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            seconds = time.perf_counter() - started
            # The template ("/api/v1/norms/{norm_id}"), never the raw path: one series per route, not per id.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.request_answered(route, scope["method"], status, seconds)
            access_log.info(
                "request",
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 1),
                client=(scope.get("client") or ("",))[0],
            )


# What a page may load, by directive. `{nonce}` is the request's nonce, `{host}` the address the browser asked for.
PAGE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    # The editor compiles Automerge's WebAssembly; nothing else is evaluated, and no script is inline.
    "script-src": ("'self'", "'wasm-unsafe-eval'"),
    # CodeMirror writes its own <style> element, which carries the nonce; style attributes are not allowed.
    "style-src": ("'self'", "'nonce-{nonce}'"),
    "img-src": ("'self'", "data:"),
    # The sync socket: 'self' covers it in CSP 3 browsers, the explicit schemes in older ones.
    "connect-src": ("'self'", "ws://{host}", "wss://{host}"),
    "worker-src": ("'self'",),
    "form-action": ("'self'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
}
# Swagger UI (/api/docs) comes from its CDN, starts with one inline script (given the nonce) and styles inline.
DOCS_POLICY = PAGE_POLICY | {
    "script-src": ("'nonce-{nonce}'", "https://cdn.jsdelivr.net"),
    "style-src": ("https://cdn.jsdelivr.net", "'unsafe-inline'"),
    "img-src": ("'self'", "data:", "https://fastapi.tiangolo.com"),
}
# Powerful features CoGov never uses, denied to the pages and anything they might embed (names Chromium knows:
# it warns of any other).
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "clipboard-read",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "otp-credentials",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "window-management",
        "xr-spatial-tracking",
    )
)
_HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def csp_nonce(request: Request) -> str:
    """The nonce of this request's Content-Security-Policy (set by SecurityHeaders)."""
    return request.state.csp_nonce


def content_security_policy(policy: dict[str, tuple[str, ...]], nonce: str, host: str | None) -> str:
    """The header value: each directive with the nonce filled in; sources naming the host left out without a sane Host."""
    directives = []
    for name, sources in policy.items():
        kept = [source for source in sources if host is not None or "{host}" not in source]
        directives.append(" ".join([name, *(source.format(nonce=nonce, host=host) for source in kept)]))
    return "; ".join(directives)


class SecurityHeaders:
    """Headers that tell browsers what a response may do.

    Every response: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy`,
    `Permissions-Policy`, and `Strict-Transport-Security` when served over https. HTML responses also carry
    a Content-Security-Policy (PAGE_POLICY, or the one `policies` names for their path) with a fresh nonce
    per request, which handlers read with `csp_nonce(request)`.
    """

    def __init__(self, app: ASGIApp, hsts_seconds: int, policies: dict[str, dict[str, tuple[str, ...]]] | None = None) -> None:
        self.app = app
        self.policies = policies or {}
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"permissions-policy", PERMISSIONS_POLICY.encode()),
        ]
        if hsts_seconds > 0:
            self.headers.append((b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *self.headers]
                if dict(headers).get(b"content-type", b"").startswith(b"text/html"):
                    host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
                    policy = self.policies.get(scope["path"], PAGE_POLICY)
                    value = content_security_policy(policy, nonce, host if _HOST.fullmatch(host) else None)
                    headers.append((b"content-security-policy", value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
