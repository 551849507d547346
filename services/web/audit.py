"""The public audit log as a page: every public act, newest first, with its place in the hash chain."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from services.accounts.models import Participant
from services.api.deps import SessionDep
from services.audit import service as audit
from services.kit.pagination import decode_cursor, encode_cursor
from services.web.i18n import gettext
from services.web.session import ViewerDep
from services.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE = 50


@router.get("/audit")
async def audit_page(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    action: str = "",
    target_type: str = "",
    target_id: str = "",
    cursor: str = "",
):
    filters = {"action": action.strip()[:80], "target_type": target_type.strip()[:40], "target_id": target_id.strip()[:120]}
    before = decode_cursor(cursor, int)[0] if cursor else None
    query = audit.listing(filters["target_type"] or None, filters["target_id"] or None, filters["action"] or None, before)
    events = (await session.scalars(query.limit(PAGE + 1))).all()
    page, more = events[:PAGE], len(events) > PAGE
    actor_ids = {event.actor_id for event in page if event.actor_id}
    names = {}
    if actor_ids:
        rows = await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(actor_ids)))
        names = {row.id: row.display_name for row in rows}
    context = {
        "events": page,
        "names": names,
        "filters": filters,
        "next_cursor": encode_cursor(page[-1].seq) if more else None,
        "paged": bool(cursor),
    }
    return render(request, viewer, "audit.html", context, title=gettext("Audit log"))
