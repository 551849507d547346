"""The web app: server-rendered pages, their static files, and HTML errors for page requests."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web import accounts, addresses, audit, ballots, errors, networks, norms, search, settings
from services.web.templating import STATIC_DIR


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
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    for module in (networks, accounts, addresses, settings, norms, ballots, audit, search):
        app.include_router(module.router)
    app.include_router(offline)
