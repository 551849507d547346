"""Norm use cases: create, read, edit, exchange Automerge bytes, versions, diffs, history, authorship."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import NamedTuple

import automerge.core as am
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from networks import membership
from networks import service as networks
from networks.models import Network
from norms import diff as text_diff
from norms import document
from norms.diff import DiffCache, DiffKey, DiffKind
from norms.errors import (
    ChangeNotFound,
    InvalidHeads,
    NormNotFound,
    NotDrafting,
    VersionNotFound,
)
from norms.models import ActorBinding, Norm, NormChange, NormStatus, NormVersion
from norms.schemas import (
    Authorship,
    AuthorshipSpan,
    DiffOut,
    EditRequest,
    EditResult,
    HistoryEntry,
    NormCreate,
    NormOut,
    NormSummary,
    PersonRef,
    TextAt,
    VersionCreate,
    VersionOut,
    VersionText,
)
from norms.store import Applied, Authorize, LockedNorm, NormStore, parse_heads
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit.db import hand_back
from services.kit.pagination import encode_cursor
from services.notifications import events as notifications

SLUG_LENGTH = 80


# --- Lookups and permissions -----------------------------------------------------------


async def get_norm(session: AsyncSession, norm_id: uuid.UUID) -> Norm:
    norm = await session.get(Norm, norm_id)
    if norm is None:
        raise NormNotFound(f"No norm with id {norm_id}")
    return norm


# Adoption fixes a version, not the document: members go on editing the working draft, and a
# later version can be balloted again.
EDITABLE = frozenset({NormStatus.drafting, NormStatus.adopted})
EDITORS_ONLY = "Only members of the norm's network may edit it"


def edit_permission(participant_id: uuid.UUID) -> Authorize:
    """The check the store runs inside its write transaction: a member, on a norm whose draft is editable."""

    async def authorize(session: AsyncSession, norm: LockedNorm) -> None:
        # Asked once per transaction: a group commit checks many writes of the same few members.
        known = session.info.setdefault("cogov.members", {})
        key = (norm.network_id, participant_id)
        if key not in known:
            known[key] = await membership.refusal_to_edit(session, norm.network_id, participant_id, EDITORS_ONLY)
        if known[key] is not None:
            raise known[key]
        if norm.status not in EDITABLE:
            raise NotDrafting()

    return authorize


# --- Creating and reading ----------------------------------------------------------------


def _slug(title: str) -> str:
    return networks.slugify(title, fallback="norm")[: SLUG_LENGTH - 8].rstrip("-") or "norm"


async def _free_slug(session: AsyncSession, network_id: uuid.UUID, title: str) -> str:
    base = _slug(title)
    taken = set((await session.scalars(select(Norm.slug).where(Norm.network_id == network_id, Norm.slug.startswith(base)))).all())
    candidates = [base] + [f"{base}-{n}" for n in range(2, len(taken) + 2)]
    return next(candidate for candidate in candidates if candidate not in taken)


async def create_norm(session: AsyncSession, store: NormStore, network_slug: str, participant: Participant, body: NormCreate) -> NormOut:
    network = await networks.get_network(session, network_slug)
    await membership.require_member(session, network.id, participant.id, "Only members of the network may start a norm in it")
    norm = Norm(
        document_id=document.new_document_id(),
        network_id=network.id,
        slug=await _free_slug(session, network.id, body.title),
        title=body.title,
        created_by=participant.id,
        language=body.language,
    )
    session.add(norm)
    await session.flush()
    heads = await store.create(session, norm, participant.id, body.title, body.text)
    await audit.record(
        session,
        actor_id=participant.id,
        action="norm.created",
        target_type="norm",
        target_id=norm.id,
        payload={
            "network": network.slug,
            "slug": norm.slug,
            "title": norm.title,
            "url": document.document_url(norm.document_id),
            "language": norm.language,
        },
    )
    return NormOut.model_validate(_summary(norm, network.slug) | {"text": body.text, "heads": heads})


def _summary(norm: Norm, network_slug: str) -> dict[str, object]:
    """A norm's `NormSummary` fields, which `NormOut` extends."""
    return {
        "id": norm.id,
        "network": network_slug,
        "slug": norm.slug,
        "title": norm.title,
        "status": norm.status.value,
        "url": document.document_url(norm.document_id),
        "current_version": norm.version_count or None,
        "adopted_version": norm.adopted_version,
        "change_count": norm.change_count,
        "created_at": norm.created_at,
        "language": norm.language,
    }


async def list_norms(session: AsyncSession, network_slug: str) -> list[NormSummary]:
    network = await networks.get_network(session, network_slug)
    norms = (await session.scalars(select(Norm).where(Norm.network_id == network.id).order_by(Norm.created_at, Norm.id))).all()
    return [NormSummary.model_validate(_summary(norm, network.slug)) for norm in norms]


async def _network_slug(session: AsyncSession, norm: Norm) -> str:
    return (await session.execute(select(Network.slug).where(Network.id == norm.network_id))).scalar_one()


async def norm_view(session: AsyncSession, store: NormStore, norm: Norm) -> NormOut:
    async with store.reading(norm.document_id, session=session) as doc:
        title, text, heads = document.read_title(doc), document.read_text(doc), document.heads_hex(doc)
    summary = _summary(norm, await _network_slug(session, norm)) | {"title": title}
    return NormOut.model_validate(summary | {"text": text, "heads": heads})


async def find_by_url(session: AsyncSession, url: str) -> Norm:
    try:
        document_id = document.parse_document_id(url)
    except document.InvalidDocumentId as exc:
        raise NormNotFound(str(exc)) from exc
    norm = await session.scalar(select(Norm).where(Norm.document_id == document_id))
    if norm is None:
        raise NormNotFound()
    return norm


# --- Editing -------------------------------------------------------------------------------


async def edit(session: AsyncSession, store: NormStore, norm: Norm, participant: Participant, body: EditRequest) -> EditResult:
    """Apply the splices as `participant`; the request's work on `session` is committed first (see hand_back)."""
    return await edit_document(session, store, norm.document_id, participant, body)


async def edit_document(
    session: AsyncSession, store: NormStore, document_id: bytes, participant: Participant, body: EditRequest
) -> EditResult:
    """Apply the splices (and a title) to the document, a norm's or a translation's, as `participant`; the
    request's work on `session` is committed first (see hand_back)."""
    await hand_back(session)
    applied = await store.edit(
        document_id,
        participant.id,
        [(splice.index, splice.delete, splice.insert) for splice in body.splices],
        title=body.title,
        base_heads=body.base_heads,
        authorize=edit_permission(participant.id),
    )
    async with store.reading(document_id) as doc:
        return EditResult(
            heads=document.heads_hex(doc),
            title=document.read_title(doc),
            text=document.read_text(doc),
            changes=[change.hash_hex for change in applied.changes],
        )


async def apply_automerge(session: AsyncSession, store: NormStore, norm: Norm, participant: Participant, data: bytes) -> Applied:
    """Merge a peer's changes or saved document as `participant`; the request's work on `session` is committed first (see hand_back)."""
    await hand_back(session)
    return await store.apply(norm.document_id, participant.id, data, authorize=edit_permission(participant.id))


async def save_automerge(session: AsyncSession, store: NormStore, norm: Norm) -> bytes:
    async with store.reading(norm.document_id, session=session) as doc:
        return doc.save()


# --- Versions ------------------------------------------------------------------------------


async def person_refs(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, PersonRef]:
    if not ids:
        return {}
    rows = await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(ids)))
    return {row.id: PersonRef(id=row.id, display_name=row.display_name) for row in rows}


def _version_out(version: NormVersion, people: dict[uuid.UUID, PersonRef]) -> dict[str, object]:
    """A version's `VersionOut` fields, which `VersionText` extends."""
    return {
        "number": version.number,
        "label": version.label,
        "note": version.note,
        "title": version.title,
        "heads": version.heads,
        "text_sha256": version.text_sha256,
        "created_by": people[version.created_by],
        "created_at": version.created_at,
    }


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def create_version(session: AsyncSession, store: NormStore, norm: Norm, participant: Participant, body: VersionCreate) -> VersionOut:
    await membership.require_member(session, norm.network_id, participant.id, "Only members of the network may tag a version")
    # Read the document before locking the norm row: the store's writers lock it while holding the document.
    async with store.reading(norm.document_id, session=session) as doc:
        heads, title, text = document.heads_hex(doc), document.read_title(doc), document.read_text(doc)
    locked = (await session.scalars(select(Norm).where(Norm.id == norm.id).with_for_update())).one()
    locked.version_count += 1
    version = NormVersion(
        norm_id=norm.id,
        number=locked.version_count,
        heads=heads,
        text_sha256=text_sha256(text),
        text=text,
        title=title,
        label=body.label,
        note=body.note,
        created_by=participant.id,
    )
    session.add(version)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="norm.version_created",
        target_type="norm",
        target_id=norm.id,
        payload={"number": version.number, "label": version.label, "heads": heads, "text_sha256": version.text_sha256},
    )
    await notifications.version_tagged(session, norm_id=norm.id, version=version.number, now=version.created_at, actor_id=participant.id)
    return VersionOut.model_validate(_version_out(version, await person_refs(session, {participant.id})))


async def get_version(session: AsyncSession, norm: Norm, number: int) -> NormVersion:
    version = await session.scalar(select(NormVersion).where(NormVersion.norm_id == norm.id, NormVersion.number == number))
    if version is None:
        raise VersionNotFound(f"Norm {norm.slug} has no version {number}")
    return version


async def list_versions(session: AsyncSession, norm: Norm) -> list[VersionOut]:
    versions = (await session.scalars(select(NormVersion).where(NormVersion.norm_id == norm.id).order_by(NormVersion.number))).all()
    people = await person_refs(session, {version.created_by for version in versions})
    return [VersionOut.model_validate(_version_out(version, people)) for version in versions]


async def version_text(session: AsyncSession, store: NormStore, norm: Norm, number: int) -> VersionText:
    version = await get_version(session, norm, number)
    return VersionText.model_validate(_version_out(version, await person_refs(session, {version.created_by})) | {"text": version.text})


# --- Diff ---------------------------------------------------------------------------------

_HEADS_REF = re.compile(r"^[0-9a-fA-F]{64}(,[0-9a-fA-F]{64})*$")


class _Point(NamedTuple):
    """A point of history named in a diff: its label, heads (None = current) and text when stored (a version's)."""

    label: str
    heads: list[bytes] | None
    text: str | None = None


async def _resolve(session: AsyncSession, norm: Norm, ref: str) -> _Point:
    """A version number, comma-separated heads, or "current"."""
    ref = ref.strip()
    if ref == "current":
        return _Point("current", None)
    if ref.removeprefix("v").isdigit():
        version = await get_version(session, norm, int(ref.removeprefix("v")))
        return _Point(f"v{version.number}", parse_heads(version.heads), version.text)
    if _HEADS_REF.fullmatch(ref):
        return _Point(ref, parse_heads(ref.split(",")))
    raise InvalidHeads(f"'{ref[:80]}' is not a version number, 'current', or comma-separated 64-character change hashes")


async def word_diff(session: AsyncSession, store: NormStore, diffs: DiffCache, norm: Norm, from_ref: str, to_ref: str) -> DiffOut:
    """Word-level segments between two points of history (computed off the event loop, once per pair)."""
    from_label, to_label, computed = await _diff(session, store, diffs, norm, "words", from_ref, to_ref)
    result = _word_diff(computed)
    return DiffOut(
        **{"from": from_label},
        to=to_label,
        segments=[{"op": segment.op, "text": segment.text} for segment in result.segments],
        stats=result.stats._asdict(),
    )


async def unified_diff(session: AsyncSession, store: NormStore, diffs: DiffCache, norm: Norm, from_ref: str, to_ref: str) -> str:
    """A unified text diff between two points of history (computed off the event loop, once per pair)."""
    from_label, to_label, hunks = await _diff(session, store, diffs, norm, "unified", from_ref, to_ref)
    return text_diff.labelled(_hunks(hunks), from_label, to_label)


async def versions_diff(store: NormStore, diffs: DiffCache, norm: Norm, old: NormVersion) -> text_diff.WordDiff:
    """The word diff of version `old`'s text to the current text."""
    old_point = _Point(f"v{old.number}", parse_heads(old.heads), old.text)
    async with store.reading(norm.document_id) as doc:
        computing = await diffs.computing(
            _diff_key(doc, norm, "words", old_point, _Point("current", None)), _texts(doc, old_point, _Point("current", None))
        )
    return _word_diff(await computing)


def _word_diff(computed: text_diff.DiffResult) -> text_diff.WordDiff:
    """What a "words" key computes."""
    if not isinstance(computed, text_diff.WordDiff):
        raise TypeError("a words diff key computed unified hunks")
    return computed


def _hunks(computed: text_diff.DiffResult) -> str:
    """What a "unified" key computes."""
    if not isinstance(computed, str):
        raise TypeError("a unified diff key computed a word diff")
    return computed


async def _diff(
    session: AsyncSession, store: NormStore, diffs: DiffCache, norm: Norm, kind: DiffKind, from_ref: str, to_ref: str
) -> tuple[str, str, text_diff.DiffResult]:
    old, new = await _resolve(session, norm, from_ref), await _resolve(session, norm, to_ref)
    async with store.reading(norm.document_id, session=session) as doc:
        for point in (old, new):
            if point.text is None and point.heads is not None and not all(document.has_change(doc, head) for head in point.heads):
                raise InvalidHeads("Those heads are not in this norm's history")
        computing = await diffs.computing(_diff_key(doc, norm, kind, old, new), _texts(doc, old, new))
    # Awaited once the document's lock is released: writers need not wait for a diff.
    return old.label, new.label, await computing


def _diff_key(doc: am.Document, norm: Norm, kind: DiffKind, old: _Point, new: _Point) -> DiffKey:
    """ "current" named by the heads it is at now, so that a kept diff stays true."""
    old_heads, new_heads = (tuple(sorted(doc.get_heads() if point.heads is None else point.heads)) for point in (old, new))
    return DiffKey(kind, norm.document_id, old_heads, new_heads)


def _texts(doc: am.Document, old: _Point, new: _Point) -> Callable[[], tuple[str, str]]:
    # A version's stored text, not a read of the document: rc1 holds the GIL for a whole read.
    def text(point: _Point) -> str:
        return document.read_text(doc, point.heads) if point.text is None else point.text

    return lambda: (text(old), text(new))


# --- History and authorship ---------------------------------------------------------------


async def history(session: AsyncSession, norm: Norm, before: int | None, limit: int) -> tuple[list[HistoryEntry], str | None]:
    query = (
        select(
            NormChange.id,
            NormChange.hash,
            NormChange.received_at,
            NormChange.inserted,
            NormChange.deleted,
            Participant.id.label("participant_id"),
            Participant.display_name,
        )
        .join(Participant, Participant.id == NormChange.participant_id)
        .where(NormChange.document_id == norm.document_id)
        .order_by(NormChange.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(NormChange.id < before)
    rows = (await session.execute(query)).all()
    entries = [
        HistoryEntry(
            hash=row.hash.hex(),
            participant=PersonRef(id=row.participant_id, display_name=row.display_name),
            received_at=row.received_at,
            inserted=row.inserted,
            deleted=row.deleted,
        )
        for row in rows[:limit]
    ]
    return entries, encode_cursor(rows[limit - 1].id) if len(rows) > limit else None


async def text_at(session: AsyncSession, store: NormStore, norm: Norm, change_hex: str) -> TextAt:
    try:
        change_hash = bytes.fromhex(change_hex)
    except ValueError as exc:
        raise InvalidHeads("`at` must be a 64-character hex change hash") from exc
    stored = await session.scalar(
        select(func.count()).select_from(NormChange).where(NormChange.document_id == norm.document_id, NormChange.hash == change_hash)
    )
    if not stored:
        raise ChangeNotFound()
    async with store.reading(norm.document_id, session=session) as doc:
        return TextAt(change=change_hex.lower(), title=document.read_title(doc, [change_hash]), text=document.text_after(doc, change_hash))


async def authorship(session: AsyncSession, store: NormStore, norm: Norm) -> Authorship:
    async with store.reading(norm.document_id, session=session) as doc:
        spans, heads = document.authorship(doc), document.heads_hex(doc)
    actors = {bytes.fromhex(span.actor) for span in spans}
    rows = await session.execute(select(ActorBinding.actor, ActorBinding.participant_id).where(ActorBinding.actor.in_(actors)))
    owners = {actor: owner for actor, owner in rows}
    if unseen := actors - owners.keys():
        # Bound by a change committed after this session began reading (SQLite keeps one snapshot per
        # transaction) but already in the resident copy read above.
        owners |= await store.owners(unseen)
    people = await person_refs(session, set(owners.values()))
    merged: list[AuthorshipSpan] = []
    for span in spans:
        owner = owners.get(bytes.fromhex(span.actor))
        if owner is None:
            raise RuntimeError(f"stored text from actor {span.actor}, which is bound to no participant")
        if merged and merged[-1].participant.id == owner and merged[-1].end == span.start:
            merged[-1].end = span.end
        else:
            merged.append(AuthorshipSpan(start=span.start, end=span.end, participant=people[owner]))
    return Authorship(heads=heads, spans=merged)
