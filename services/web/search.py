"""Pages for searching: `/search` (everything public) and `/norms` (the directory of norms), both plain GET forms."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from services.api.deps import SessionDep
from services.kit.errors import DomainError
from services.search import service
from services.search.models import Kind, Status
from services.search.router import PARAMETERS, refuse_unknown
from services.search.service import SearchFilters
from services.search.text import LANGUAGES, MAX_QUERY_CHARS
from services.web.session import ViewerDep
from services.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE = 20
KIND_LABELS = {
    Kind.norm: "Norms",
    Kind.version: "Versions",
    Kind.entry: "Adopted entries",
    Kind.network: "Networks",
    Kind.consultation: "Consultations",
    Kind.comment: "Comments",
}
KIND_NAMES = {
    Kind.norm: "Norm",
    Kind.version: "Version",
    Kind.entry: "Adopted entry",
    Kind.network: "Network",
    Kind.consultation: "Consultation",
    Kind.comment: "Comment",
}
STATUS_LABELS = {Status.drafting: "Drafting", Status.adopted: "Adopted", Status.in_force: "In force", Status.superseded: "Superseded"}
LANGUAGE_LABELS = {"ar": "العربية", "en": "English", "es": "Español", "fr": "Français", "ru": "Русский", "zh": "中文"}


def _filters(request: Request, *, norms_only: bool) -> tuple[SearchFilters, dict[str, str]]:
    """The form's filters as the search takes them, and as the form shows them back (blank when not given)."""
    params = request.query_params
    refuse_unknown(request, PARAMETERS)
    shown = {name: params.get(name, "") for name in ("q", "network", "status", "group", "region", "language", "from", "to")}
    shown["kind"] = "norm" if norms_only else params.get("kind", "")
    raw = {name: value for name, value in shown.items() if value and name != "kind"}
    kinds = [Kind.norm] if norms_only else [kind for kind in params.getlist("kind") if kind]
    try:
        filters = SearchFilters.model_validate(raw | {"kind": kinds})
        for name in ("from", "to"):
            if shown[name]:
                date.fromisoformat(shown[name])
    except (ValidationError, ValueError) as exc:
        raise service.UnknownFilter("A filter is not one this search knows; check kind, status, language and dates") from exc
    return filters, shown


async def _page(request: Request, session: SessionDep, viewer: ViewerDep, *, norms_only: bool) -> HTMLResponse:
    error, page, shown = None, None, {"q": request.query_params.get("q", "")[:MAX_QUERY_CHARS]}
    cursor = request.query_params.get("cursor") or None
    try:
        filters, shown = _filters(request, norms_only=norms_only)
        page = await service.search(session, request.app.state.taxonomy, filters, cursor=cursor, limit=PAGE)
    except DomainError as exc:
        error = exc.detail
    context = {
        "page": page,
        "error": error,
        "filters": shown,
        "paged": bool(cursor),
        "kinds": KIND_LABELS,
        "kind_names": KIND_NAMES,
        "statuses": STATUS_LABELS,
        "languages": {code: LANGUAGE_LABELS[code] for code in LANGUAGES},
        "action": "/norms" if norms_only else "/search",
        "max_query": MAX_QUERY_CHARS,
    }
    title = "Norms" if norms_only else (f"Search: {shown['q']}" if shown.get("q") else "Search")
    return render(request, viewer, "search.html", context, status_code=422 if error else 200, title=title)


@router.get("/search")
async def search_page(request: Request, session: SessionDep, viewer: ViewerDep) -> HTMLResponse:
    return await _page(request, session, viewer, norms_only=False)


@router.get("/norms")
async def norms_directory(request: Request, session: SessionDep, viewer: ViewerDep) -> HTMLResponse:
    return await _page(request, session, viewer, norms_only=True)
