"""HTTP for search: `GET /api/v1/search`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from networks.router import get_taxonomy
from networks.taxonomy import Taxonomy
from services.api.deps import CursorQuery, SessionDep
from services.kit.pagination import Page
from services.search import service
from services.search.models import Kind, Status
from services.search.service import SearchFilters, SearchHit, UnknownFilter
from services.search.text import MAX_QUERY_CHARS

router = APIRouter(prefix="/api/v1", tags=["search"])

PARAMETERS = frozenset({"q", "kind", "network", "status", "group", "region", "language", "from", "to", "cursor", "limit"})


def refuse_unknown(request: Request, allowed: frozenset[str] = PARAMETERS) -> None:
    """A misspelt filter would silently widen the search: name it instead (422)."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        errors = [{"field": f"query.{name}", "message": f"Unknown parameter {name!r}", "allowed": sorted(allowed)} for name in unknown]
        raise UnknownFilter(
            f"Unknown search parameter {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}", errors=errors
        )


def search_filters(
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description='Words that must all appear: "a phrase", -excluded, prefix*')] = "",
    kind: Annotated[list[Kind], Query(description="Only these kinds (repeat the parameter for several)")] = [],  # noqa: B006
    network: Annotated[str | None, Query(max_length=80, description="A network's slug")] = None,
    status: Annotated[Status | None, Query()] = None,
    group: Annotated[str | None, Query(max_length=40, description="A stakeholder group code of a network member")] = None,
    region: Annotated[str | None, Query(max_length=40, description="A region code of a network member")] = None,
    language: Annotated[str | None, Query(max_length=8, description="ar, en, es, fr, ru or zh")] = None,
    since: Annotated[date | None, Query(alias="from", description="On or after this day")] = None,
    until: Annotated[date | None, Query(alias="to", description="On or before this day")] = None,
) -> SearchFilters:
    return SearchFilters(
        q=q, kind=kind, network=network, status=status, group=group, region=region, language=language, since=since, until=until
    )


FiltersDep = Annotated[SearchFilters, Depends(search_filters)]
TaxonomyDep = Annotated[Taxonomy, Depends(get_taxonomy)]


@router.get("/search", response_model=Page[SearchHit], dependencies=[Depends(refuse_unknown)], summary="Search everything public")
async def search(
    session: SessionDep,
    taxonomy: TaxonomyDep,
    filters: FiltersDep,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = service.DEFAULT_LIMIT,
) -> Page[SearchHit]:
    """Norms (title and live text), versions, clearing-house entries, networks, consultations and comments whose
    words match, best first (relevance, then newest). Without `q`: the directory, newest first. Snippets are
    safe HTML with the matched words in `<mark>`."""
    return await service.search(session, taxonomy, filters, cursor=cursor, limit=limit)
