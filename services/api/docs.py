"""The interactive API documentation (Swagger UI) at /api/docs, under its own Content-Security-Policy."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from services.api.middleware import csp_nonce

DOCS_PATH = "/api/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"  # where FastAPI puts it

router = APIRouter(include_in_schema=False)


def _with_nonce(page: HTMLResponse, request: Request) -> HTMLResponse:
    """The page with the request's nonce on its inline scripts (DOCS_POLICY runs no other inline script)."""
    return HTMLResponse(bytes(page.body).decode().replace("<script>", f'<script nonce="{csp_nonce(request)}">'))


@router.get(DOCS_PATH)
async def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    page = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI", oauth2_redirect_url=OAUTH2_REDIRECT_PATH)
    return _with_nonce(page, request)


@router.get(OAUTH2_REDIRECT_PATH)
async def swagger_ui_redirect(request: Request) -> HTMLResponse:
    return _with_nonce(get_swagger_ui_oauth2_redirect_html(), request)
