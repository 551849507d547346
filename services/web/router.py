"""The web app: server-rendered pages, their static files, and HTML errors for page requests."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web import (
    accounts,
    addresses,
    audit,
    ballots,
    drafting,
    errors,
    networks,
    norms,
    notifications,
    search,
    settings,
    translations,
    verification,
)
from services.web.templating import STATIC_DIR, static_version

# A year, never revalidated: the address changes whenever the content does.
IMMUTABLE = "public, max-age=31536000, immutable"
# The bundle's files are named by their content (build.mjs): editor-HASH.js, automerge-HASH.wasm.
_HASHED_BUILD = re.compile(r"build/[\w.]+-[A-Za-z0-9]{8,}\.[a-z]+(?:\.[A-Z]+\.txt)?")


class StaticAssets(StaticFiles):
    """`/static`: files addressed by their content (the bundle's hashed names, or `?v=` with the file's
    current hash, see `static_url`) are cached for a year; any other address is revalidated each time."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE if _content_addressed(path, scope) else "no-cache"
        return response


def _content_addressed(path: str, scope: Scope) -> bool:
    if _HASHED_BUILD.fullmatch(path):
        return True
    asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v")
    try:
        return asked == [static_version(path)]
    except OSError:
        return False


class CompressPages:
    """gzip for pages and static files (the editor bundle shrinks to a third); the API is left as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/"):
            await self.gzip(scope, receive, _one_vary(send))
        else:
            await self.app(scope, receive, send)


def _one_vary(send: Send) -> Send:
    """`send` with each name of a response's `Vary` said once (a feed that compresses itself already varies by
    Accept-Encoding, and the gzip middleware adds it again)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            headers = MutableHeaders(scope=message)
            names: dict[str, str] = {}
            for value in headers.getlist("vary"):
                for name in filter(None, (part.strip() for part in value.split(","))):
                    names.setdefault(name.lower(), name)
            if names:
                del headers["vary"]
                headers["vary"] = ", ".join(names.values())
        await send(message)

    return sending


offline = APIRouter(include_in_schema=False)


@offline.get("/sw.js")
async def service_worker() -> FileResponse:
    """The service worker that keeps norm pages usable offline; served from the root so its scope is the site."""
    return FileResponse(STATIC_DIR / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Mount the pages and `/static` on the app; call after the API's error handlers are installed."""
    errors.install(app)
    app.add_middleware(CompressPages)
    app.mount("/static", StaticAssets(directory=STATIC_DIR, check_dir=False), name="static")
    for module in (
        networks,
        accounts,
        addresses,
        settings,
        notifications,
        norms,
        translations,
        ballots,
        drafting,
        audit,
        search,
        verification,
    ):
        app.include_router(module.router)
    app.include_router(offline)
