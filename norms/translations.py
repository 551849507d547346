"""Translations of a norm's versions: each its own Automerge document, co-edited live and stored as a norm's is.

A norm is drafted in one language (`Norm.language`); its text in it is the authentic one. Members translate a
version into any other of the six UN languages: the translation's document starts as a copy of the version's
title and text, which translators replace passage by passage over the same live-sync socket as the norm. A
convener reviews a translation: the review records the heads, title and text it saw, and that reviewed text is
what the clearing house publishes beside the entry of the version (labelled a translation, never the authentic
text). Editing goes on after a review; a later review replaces what is published.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from networks import membership
from norms import document
from norms.errors import TranslationExists, TranslationNotFound, TranslationOfAuthenticText
from norms.models import Norm, NormTranslation, NormVersion
from norms.schemas import EditRequest, EditResult, PersonRef, TranslationCreate, TranslationOut, TranslationSummary
from norms.service import edit_document, get_version, person_refs
from norms.store import NormStore
from services.accounts.models import Participant
from services.audit import service as audit
from services.clearinghouse import feedstate
from services.clearinghouse.models import FeedEntry


async def create(
    session: AsyncSession, store: NormStore, norm: Norm, number: int, participant: Participant, body: TranslationCreate
) -> TranslationOut:
    """Start a translation of version `number` into `body.language` (members), its document a copy of the version's text.

    TranslationOfAuthenticText (422) for the norm's own language; TranslationExists (409) for a second one."""
    await membership.require_member(session, norm.network_id, participant.id, "Only members of the network may translate its norms")
    version = await get_version(session, norm, number)
    if body.language == norm.language:
        raise TranslationOfAuthenticText(
            f"Norm {norm.slug} is drafted in {norm.language}: its text in {norm.language} is the authentic one", language=norm.language
        )
    if await _find(session, version, body.language) is not None:
        raise TranslationExists(f"Version {number} of {norm.slug} already has a translation into {body.language}", language=body.language)
    translation = NormTranslation(
        norm_id=norm.id,
        version_id=version.id,
        language=body.language,
        document_id=document.new_document_id(),
        title=version.title,
        created_by=participant.id,
    )
    session.add(translation)
    try:
        await session.flush()
    except IntegrityError as exc:  # another request started the same translation between our check and insert
        raise TranslationExists(
            f"Version {number} of {norm.slug} already has a translation into {body.language}", language=body.language
        ) from exc
    heads = await store.create(session, translation, participant.id, version.title, version.text)
    await audit.record(
        session,
        actor_id=participant.id,
        action="norm.translation_created",
        target_type="norm",
        target_id=norm.id,
        payload={"version": number, "language": body.language, "url": document.document_url(translation.document_id)},
    )
    people = await _people(session, [translation])
    return TranslationOut.model_validate(
        _summary(translation, norm, number, people) | {"text": version.text, "heads": heads, "reviewed_title": None, "reviewed_text": None}
    )


async def listing(session: AsyncSession, norm: Norm, number: int) -> list[TranslationSummary]:
    """The version's translations, by language in the UN's order of codes as stored (alphabetical)."""
    version = await get_version(session, norm, number)
    rows = (
        await session.scalars(select(NormTranslation).where(NormTranslation.version_id == version.id).order_by(NormTranslation.language))
    ).all()
    people = await _people(session, rows)
    return [TranslationSummary.model_validate(_summary(row, norm, number, people)) for row in rows]


async def languages_by_version(session: AsyncSession, norm: Norm) -> dict[int, list[str]]:
    """The languages each version of `norm` is translated into (reviewed or not), by version number."""
    rows = await session.execute(
        select(NormVersion.number, NormTranslation.language)
        .join(NormVersion, NormVersion.id == NormTranslation.version_id)
        .where(NormTranslation.norm_id == norm.id)
        .order_by(NormVersion.number, NormTranslation.language)
    )
    found: dict[int, list[str]] = {}
    for number, language in rows:
        found.setdefault(number, []).append(language)
    return found


async def document_of(session: AsyncSession, norm: Norm, number: int, language: str) -> bytes:
    """The Automerge document of the translation of version `number` into `language` (404 without one)."""
    return (await _get(session, norm, number, language)).document_id


async def view(session: AsyncSession, store: NormStore, norm: Norm, number: int, language: str) -> TranslationOut:
    """The translation with its current text (as translators have it) and the text last reviewed."""
    translation = await _get(session, norm, number, language)
    async with store.reading(translation.document_id, session=session) as doc:
        title, text, heads = document.read_title(doc), document.read_text(doc), document.heads_hex(doc)
    people = await _people(session, [translation])
    return TranslationOut.model_validate(
        _summary(translation, norm, number, people)
        | {
            "title": title,
            "text": text,
            "heads": heads,
            "reviewed_title": translation.reviewed_title,
            "reviewed_text": translation.reviewed_text,
        }
    )


async def edit(
    session: AsyncSession, store: NormStore, norm: Norm, number: int, language: str, participant: Participant, body: EditRequest
) -> EditResult:
    """Apply splices (and a title) to the translation as `participant` (members), as a norm's edits are applied."""
    translation = await _get(session, norm, number, language)
    return await edit_document(session, store, translation.document_id, participant, body)


async def review(
    session: AsyncSession, store: NormStore, norm: Norm, number: int, language: str, participant: Participant, now: datetime
) -> TranslationOut:
    """Mark the translation reviewed as it stands now (conveners): its heads, title and text become what is published.

    If the version's entry is already published, the feeds change (the translation appears in them from now on)."""
    translation = await _get(session, norm, number, language)
    await membership.require_convener(session, norm.network_id, participant.id, "Only conveners of the network may review a translation")
    async with store.reading(translation.document_id, session=session) as doc:
        title, text, heads = document.read_title(doc), document.read_text(doc), document.heads_hex(doc)
    translation.reviewed_by, translation.reviewed_at = participant.id, now
    translation.reviewed_heads, translation.reviewed_title, translation.reviewed_text = heads, title, text
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="norm.translation_reviewed",
        target_type="norm",
        target_id=norm.id,
        payload={"version": number, "language": language, "heads": heads},
    )
    published = await session.scalar(select(FeedEntry.id).where(FeedEntry.norm_id == norm.id, FeedEntry.version_number == number))
    if published is not None:
        await feedstate.bump(session, now)
    return await view(session, store, norm, number, language)


async def reviewed(session: AsyncSession, versions: Sequence[tuple[uuid.UUID, int]]) -> dict[tuple[uuid.UUID, int], list[NormTranslation]]:
    """The reviewed translations of each (norm, version number), by language: what a published entry carries."""
    found: dict[tuple[uuid.UUID, int], list[NormTranslation]] = defaultdict(list)
    if not versions:
        return found
    rows = await session.execute(
        select(NormVersion.norm_id, NormVersion.number, NormTranslation)
        .join(NormTranslation, NormTranslation.version_id == NormVersion.id)
        .where(tuple_(NormVersion.norm_id, NormVersion.number).in_(list(set(versions))), NormTranslation.reviewed_at.is_not(None))
        .order_by(NormTranslation.language)
    )
    for norm_id, number, translation in rows.tuples():
        found[(norm_id, number)].append(translation)
    return found


async def _find(session: AsyncSession, version: NormVersion, language: str) -> NormTranslation | None:
    found: NormTranslation | None = await session.scalar(
        select(NormTranslation).where(NormTranslation.version_id == version.id, NormTranslation.language == language)
    )
    return found


async def _get(session: AsyncSession, norm: Norm, number: int, language: str) -> NormTranslation:
    translation = await _find(session, await get_version(session, norm, number), language)
    if translation is None:
        raise TranslationNotFound(f"Version {number} of {norm.slug} has no translation into {language[:8]}")
    return translation


async def _people(session: AsyncSession, translations: Sequence[NormTranslation]) -> dict[uuid.UUID, PersonRef]:
    return await person_refs(session, {t.created_by for t in translations} | {t.reviewed_by for t in translations if t.reviewed_by})


def _summary(translation: NormTranslation, norm: Norm, number: int, people: dict[uuid.UUID, PersonRef]) -> dict[str, object]:
    """A translation's `TranslationSummary` fields, which `TranslationOut` extends."""
    return {
        "id": translation.id,
        "norm_id": norm.id,
        "version": number,
        "language": translation.language,
        "authentic_language": norm.language,
        "url": document.document_url(translation.document_id),
        "title": translation.title,
        "change_count": translation.change_count,
        "created_by": people[translation.created_by],
        "created_at": translation.created_at,
        "reviewed": translation.reviewed_at is not None,
        "reviewed_by": people[translation.reviewed_by] if translation.reviewed_by else None,
        "reviewed_at": translation.reviewed_at,
        "reviewed_heads": translation.reviewed_heads,
    }
