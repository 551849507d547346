"""Errors on pages render as HTML pages; errors on the API stay JSON.

`install` wraps the API's handlers: a request for a page (any path outside `/api/`, the health
checks and static files) gets an HTML page with the same status and message.
"""

from __future__ import annotations

from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.accounts.twofactor import TwoFactorRequired
from services.api.errors import validation_errors
from services.kit.errors import DomainError
from services.web.i18n import lazy_gettext
from services.web.session import SignInRequired, get_viewer

log = structlog.get_logger()

NEW_LINK_CODES = frozenset({"link_invalid", "link_expired", "link_used"})
_NOT_PAGES = ("/api/", "/static/", "/healthz", "/readyz", "/metrics", "/sw.js")

_TITLES = {
    400: lazy_gettext("Bad request"),
    401: lazy_gettext("Please sign in"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Not found"),
    405: lazy_gettext("Not allowed"),
    409: lazy_gettext("Cannot do that now"),
    410: lazy_gettext("This link no longer works"),
    413: lazy_gettext("Too large"),
    422: lazy_gettext("Please check what you entered"),
    429: lazy_gettext("Too many attempts"),
    500: lazy_gettext("Something went wrong"),
}


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(_NOT_PAGES) and request.url.path != "/api"


async def render_error(request: Request, status_code: int, detail: str, error: DomainError | None = None):
    from services.api.deps import get_settings
    from services.web.forms import refusal
    from services.web.templating import reader_zone, render

    settings = get_settings(request)
    async with request.app.state.sessionmaker() as session:
        viewer = await get_viewer(request, session, settings)
    code = error.code if error is not None else None
    if error is not None:  # in words, without API addresses, with a link to where to put it right
        detail = refusal(error, reader_zone(viewer.zone_name), request.url.path).html()
    return render(
        request,
        viewer,
        "error.html",
        {
            "status": status_code,
            "heading": str(_TITLES.get(status_code, lazy_gettext("Error"))),
            "detail": detail,
            "sign_in": status_code == 401,
            # A mailed link that no longer works, or an act refused until the address is proven: offer a new link.
            "new_link": code in NEW_LINK_CODES,
            # A link proving an address at one's organisation: a new one is asked for on "verify my affiliation".
            "new_proof": code in NEW_LINK_CODES and request.url.path == "/prove-address",
            "unverified": code == "email_unverified",
        },
        status_code=status_code,
        title=str(_TITLES.get(status_code, lazy_gettext("Error"))),
    )


def install(app: FastAPI) -> None:
    json_handlers = dict(app.exception_handlers)

    def dispatch(kind: type[Exception], describe):
        api_handler = json_handlers[kind]

        async def handler(request: Request, exc: Exception):
            if not is_page(request):
                return await api_handler(request, exc)
            if isinstance(exc, SignInRequired) and request.method == "GET":
                return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)
            if isinstance(exc, TwoFactorRequired) and request.method == "GET":
                return RedirectResponse(f"/settings/two-factor?next={quote(request.url.path)}", status_code=303)
            status_code, detail = describe(exc)
            if status_code >= 500:
                log.error("page_error", path=request.url.path, exc_info=exc)
            response = await render_error(request, status_code, detail, exc if isinstance(exc, DomainError) else None)
            response.headers.update(getattr(exc, "headers", None) or {})  # Retry-After on a 429; Starlette's 404 carries None
            return response

        app.add_exception_handler(kind, handler)

    dispatch(DomainError, lambda exc: (exc.status_code, exc.detail))
    dispatch(
        RequestValidationError,
        lambda exc: (422, "; ".join(f"{error['field']}: {error['message']}" for error in validation_errors(exc))),
    )
    dispatch(StarletteHTTPException, lambda exc: (exc.status_code, _http_detail(exc)))
    dispatch(Exception, lambda exc: (500, "The server could not show this page. Please try again in a moment."))


def _http_detail(exc: StarletteHTTPException) -> str:
    if exc.status_code == 404:
        return "There is no page at this address."
    if exc.status_code == 405:
        return "This address does not accept that kind of request."
    return str(exc.detail)
