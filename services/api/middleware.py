"""ASGI middleware: a request id in every log line and response, a cap on request bodies, request
metrics and access log lines, and security headers."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.exceptions import HTTPException
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
                "request", method=scope["method"], route=route, status=status, duration_ms=round(seconds * 1000, 1),
                client=(scope.get("client") or ("",))[0],
            )


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` on every response; `Strict-Transport-Security` when served over https."""

    def __init__(self, app: ASGIApp, hsts_seconds: int) -> None:
        self.app = app
        self.headers = [(b"x-content-type-options", b"nosniff")]
        if hsts_seconds > 0:
            self.headers.append((b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
