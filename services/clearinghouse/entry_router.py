"""HTTP for what hangs off a published entry: its exports (Akoma Ntoso, Markdown, text) and subscribers' follow-up.

Mounted before the entries API: `/entries/{id}.md` must not be taken for an entry id.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from norms.ballot_router import ClockDep
from norms.schemas import LanguageCode
from services.accounts.schemas import ParticipantOut
from services.api.deps import CurrentParticipant, SessionDep, SettingsDep, StaffParticipant, WritingSessionDep
from services.clearinghouse import entries, exports, followup

router = APIRouter(prefix="/api/v1/clearinghouse", tags=["clearing house: exports and follow-up"])


async def _view(session, entry_id: uuid.UUID) -> entries.EntryView:
    [view] = await entries.views(session, [await entries.get_entry(session, entry_id)], details=False)
    return view


def _filename(view: entries.EntryView, extension: str) -> dict[str, str]:
    name = f"{view.entry.network_slug}-{view.entry.norm_slug}-v{view.entry.version_number}.{extension}"
    return {"Content-Disposition": f'inline; filename="{name}"'}


@router.get(
    "/entries/{entry_id}/akn.xml",
    response_class=Response,
    responses={200: {"content": {exports.AKN_MEDIA_TYPE: {}}}},
    summary="The entry as Akoma Ntoso 3.0 XML",
)
async def akoma_ntoso(entry_id: uuid.UUID, session: SessionDep, settings: SettingsDep, clock: ClockDep, lang: LanguageCode | None = None):
    """An Akoma Ntoso 3.0 `statement` with FRBR identification (the norm as Work, this version as its own Expression),
    the network as author, the adoption and the version it supersedes in its lifecycle, the signed record in
    `proprietary` and the exact text; it validates against the OASIS schema.

    `?lang=` gives a reviewed translation as its own Expression of the same Work (`FRBRtranslation`, not
    authoritative); 404 if the entry has none in that language."""
    view = await _view(session, entry_id)
    first_adopted, superseded = await entries.lineage(session, view.entry)
    document = exports.akn(view, settings.base_url, clock.now(), first_adopted=first_adopted, superseded=superseded, language=lang)
    return Response(document, media_type=exports.AKN_MEDIA_TYPE, headers=_filename(view, "xml"))


@router.get("/entries/{entry_id}.md", response_class=PlainTextResponse, summary="The entry as Markdown")
async def as_markdown(entry_id: uuid.UUID, session: SessionDep, settings: SettingsDep):
    view = await _view(session, entry_id)
    return PlainTextResponse(
        exports.markdown(view, settings.base_url), media_type="text/markdown; charset=utf-8", headers=_filename(view, "md")
    )


@router.get("/entries/{entry_id}.txt", response_class=PlainTextResponse, summary="The entry as plain text")
async def as_text(entry_id: uuid.UUID, session: SessionDep, settings: SettingsDep):
    view = await _view(session, entry_id)
    return PlainTextResponse(exports.plain_text(view, settings.base_url), headers=_filename(view, "txt"))


# --- Follow-up by subscribers ------------------------------------------------------------------


@router.get("/entries/{entry_id}/follow-up", response_model=followup.FollowUpOut)
async def follow_up(entry_id: uuid.UUID, session: SessionDep):
    """Every subscriber organisation's status for this norm, with counts per status and per world region."""
    return await followup.table(session, await entries.get_entry(session, entry_id))


@router.put("/entries/{entry_id}/follow-up", response_model=followup.FollowUpOut)
async def record_follow_up(
    session: WritingSessionDep, entry_id: uuid.UUID, body: followup.FollowUpIn, participant: CurrentParticipant, clock: ClockDep
):
    """Record your organisation's status for this norm (subscribers): `received`, `under_review`, `implemented` or
    `not_applicable`, with its date, the national instrument and a note. Audited."""
    entry = await entries.get_entry(session, entry_id)
    await followup.record(session, clock.now(), participant, entry, body)
    return await followup.table(session, entry)


@router.post("/receipt-token", response_model=followup.ReceiptTokenOut, status_code=201)
async def receipt_token(session: WritingSessionDep, participant: CurrentParticipant, clock: ClockDep):
    """A new receipt token (subscribers; the previous one stops working). A WebSub callback answering a delivery with
    `X-CoGov-Receipt: <token>` marks the delivered norms `received` for you, unless you already set a status."""
    return await followup.new_receipt_token(session, clock.now(), participant)


@router.post("/subscribers", response_model=ParticipantOut)
async def verify_subscriber(session: WritingSessionDep, body: followup.SubscriberVerification, staff: StaffParticipant):
    """Verify a self-registered organisation (staff): its account becomes a `subscriber`. Audited as a role change."""
    return await followup.verify_subscriber(session, staff, body.participant_id)
