"""A WebSub subscriber for tests: a real HTTP server on 127.0.0.1 that verifies intent and records deliveries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import uvicorn

from tests.fixtures.app import TestServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Subscriber:
    """Answers intent verification by echoing `hub.challenge` (unless told otherwise) and deliveries with
    the statuses queued in `replies` (then `default_status`), holding each for `delay` seconds.

    With `confirm_secrets`, it confirms a subscription only when the hub signed the challenge with one of
    those secrets (the ones it asked for), as a subscriber that checks who asked for a change does."""

    echo: str = "challenge"  # "challenge", "wrong" or "refuse"
    confirm_secrets: list[str] | None = None
    replies: list[int] = field(default_factory=list)
    default_status: int = 204
    delay: float = 0.0
    verifications: list[dict] = field(default_factory=list)
    deliveries: list[Received] = field(default_factory=list)
    arrivals: int = 0
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task | None = None

    def url(self, path: str = "/callback") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        if scope["method"] == "GET":
            params = {key: values[0] for key, values in parse_qs(scope["query_string"].decode()).items()}
            signature = headers.get("x-hub-signature")
            self.verifications.append(params | {"path": scope["path"], "signature": signature})
            if self.echo == "refuse":
                return await self._answer(send, 404, b"no such subscription")
            if self.confirm_secrets is not None and params.get("hub.mode") == "subscribe":
                challenge = params.get("hub.challenge", "").encode()
                if signature not in {hub_signature(secret, challenge) for secret in self.confirm_secrets}:
                    return await self._answer(send, 404, b"not a secret this subscriber asked for")
            answer = params.get("hub.challenge", "") if self.echo == "challenge" else "something else"
            return await self._answer(send, 200, answer.encode())
        self.arrivals += 1
        # Decided on arrival: a request still held when the test changes `replies` keeps its own answer.
        status = self.replies.pop(0) if self.replies else self.default_status
        if self.delay:
            await asyncio.sleep(self.delay)
        self.deliveries.append(Received(scope["path"], headers, body, status))
        await self._answer(send, status, b"")

    async def _answer(self, send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    async def start(self) -> Subscriber:
        config = uvicorn.Config(self, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
        self._server = TestServer(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            await self._task

    def accepted(self) -> list[Received]:
        """Deliveries this subscriber answered 2xx (what it holds)."""
        return [d for d in self.deliveries if 200 <= d.status < 300]


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Serving:
    """Any ASGI app on an ephemeral port of 127.0.0.1, for as long as the block runs."""

    def __init__(self, app) -> None:
        self.server = TestServer(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off"))
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc) -> None:
        self.server.should_exit = self.server.force_exit = True
        await self.task
