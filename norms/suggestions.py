"""Suggested changes: replacement text proposed for a passage, which a member accepts or declines.

A member — and, while a consultation on the norm is open, anyone signed in with an affiliation — suggests.
Accepting applies the replacement to the live document through the norm store as a change made on a new
actor bound to the *suggester* (as every REST edit is made for its editor), so history and "Who wrote what"
credit the suggester; the suggestion records who accepted it. The passage is anchored by norms/anchoring.py:
a suggestion whose passage has changed since is outdated, and accepting it is refused (409, with the passage
as it is now) until its author refreshes it. Every acceptance and decline is in the audit log.

Accepting claims the suggestion first (committed), then writes the change; if the write is refused the claim
is undone, so two members accepting at once apply it once, and nothing is logged that did not happen.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from networks import membership
from networks import service as networks
from networks.errors import AffiliationRequired
from norms import anchoring, discussions, document
from norms import service as norms
from norms.consultation_models import Consultation
from norms.diff import DiffCache, Segment, word_diff
from norms.drafting_models import Suggestion, SuggestionStatus
from norms.drafting_schemas import Decision, DeclineIn, PassageIn, SuggestionCreate, SuggestionMark, SuggestionOut, SuggestionRefresh
from norms.errors import NormTooLarge
from norms.models import Norm
from norms.store import NormStore, parse_heads
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit.db import hand_back, take_write_lock
from services.kit.errors import Conflict, Forbidden, InvalidInput, NotFound

MAY_SUGGEST = (
    "Only members of the norm's network suggest changes, and, while a consultation on it is open, anyone signed in with an affiliation"
)
MEMBERS_DECIDE = "Only members of the norm's network accept or decline suggested changes"


class SuggestionNotFound(NotFound):
    """No such suggested change."""

    code = "suggestion_not_found"


class PassageChanged(Conflict):
    """The passage is no longer what the suggestion was written against; the reply carries the passage as it is now."""

    code = "passage_changed"


class SuggestionOutdated(PassageChanged):
    """The passage has changed since this suggestion was made: its author can refresh it onto the text as it is now."""

    code = "suggestion_outdated"


class SuggestionDecided(Conflict):
    """This suggestion was already accepted or declined."""

    code = "suggestion_decided"


class NotTheSuggester(Forbidden):
    """Only the suggestion's author may refresh it."""

    code = "not_the_suggester"


class NothingToChange(InvalidInput):
    """The replacement is the passage as it is: there is nothing to change."""

    code = "nothing_to_change"


# --- Permissions and passages -----------------------------------------------------------------


async def _open_consultation(session: AsyncSession, norm: Norm, now: datetime) -> Consultation | None:
    found: Consultation | None = await session.scalar(
        select(Consultation)
        .where(Consultation.norm_id == norm.id, Consultation.closed_at.is_(None), Consultation.closes_at > now)
        .order_by(Consultation.opened_at.desc())
        .limit(1)
    )
    return found


async def may_suggest(session: AsyncSession, norm: Norm, participant_id: uuid.UUID | None, now: datetime) -> bool:
    """Whether the page should offer this person the suggestion form."""
    if participant_id is None:
        return False
    if await membership.is_member(session, norm.network_id, participant_id):
        return True
    return await _open_consultation(session, norm, now) is not None


async def _require_may_suggest(session: AsyncSession, norm: Norm, participant: Participant, now: datetime) -> Consultation | None:
    """None for a member; the open consultation that lets a non-member suggest; refused otherwise."""
    await membership.require_may_take_part(session, participant.id, "suggest a change")
    if await membership.is_member(session, norm.network_id, participant.id):
        await membership.require_participant(session, participant.id)
        return None
    consultation = await _open_consultation(session, norm, now)
    if consultation is None:
        await membership.refuse_non_member(session, participant.id, MAY_SUGGEST)
    await membership.require_participant(session, participant.id)
    if await networks.current_affiliation(session, participant.id) is None:
        raise AffiliationRequired("suggest a change during a consultation")
    return consultation


async def _passage_at(store: NormStore, norm: Norm, passage: PassageIn) -> tuple[int, int, str, list[str], int]:
    """(start, end, quote, heads, length of the current text) for a passage a person pointed at; PassageChanged
    (409, with the words there now) when their quote is not what the text holds there."""
    async with store.reading(norm.document_id) as doc:
        current = document.read_text(doc)
        if passage.heads:
            heads = parse_heads(passage.heads)
            if not all(document.has_change(doc, head) for head in heads):
                raise anchoring.AnchorInvalid("Those heads are not in this norm's history")
            text, at = document.read_text(doc, heads), sorted(h.hex() for h in heads)
        else:
            text, at = current, document.heads_hex(doc)
    if passage.quote is not None and passage.end <= len(text) and text[passage.start : passage.end] != passage.quote:
        raise PassageChanged(
            f"The text at {passage.start}..{passage.end} is no longer the passage you quoted",
            current=text[passage.start : passage.end],
            heads=at,
        )
    quote = anchoring.passage(text, passage.start, passage.end, passage.quote, "the text")
    return passage.start, passage.end, quote, at, len(current)


def _check_size(store: NormStore, length: int, quote: str, replacement: str) -> None:
    """The edit limits a REST edit has (operations, characters), as 413 before anything is stored."""
    limits = store.limits
    ops = len(quote) + len(replacement)
    if ops > limits.max_ops:
        raise NormTooLarge(f"Accepting this suggestion would take {ops} operations; an edit holds at most {limits.max_ops}")
    after = length - len(quote) + len(replacement)
    if after > limits.max_chars:
        raise NormTooLarge(f"The norm would hold {after} characters; at most {limits.max_chars}")


# --- Use cases -------------------------------------------------------------------------------


async def suggest(
    session: AsyncSession, store: NormStore, now: datetime, participant: Participant, norm: Norm, body: SuggestionCreate
) -> Suggestion:
    consultation = await _require_may_suggest(session, norm, participant, now)
    start, end, quote, heads, length = await _passage_at(store, norm, body.passage)
    if quote == body.replacement:
        raise NothingToChange()
    _check_size(store, length, quote, body.replacement)
    suggestion = Suggestion(
        norm_id=norm.id,
        author_id=participant.id,
        anchor_start=start,
        anchor_end=end,
        anchor_quote=quote,
        anchor_heads=heads,
        replacement=body.replacement,
        note=body.note,
        consultation_id=consultation.id if consultation else None,
        status=SuggestionStatus.pending,
        created_at=now,
    )
    session.add(suggestion)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="suggestion.made",
        target_type="suggestion",
        target_id=suggestion.id,
        payload={"norm": str(norm.id), "passage": quote, "replacement": body.replacement, "anchor": [start, end]},
    )
    return suggestion


async def get(session: AsyncSession, suggestion_id: uuid.UUID) -> tuple[Suggestion, Norm]:
    found = await session.get(Suggestion, suggestion_id)
    if found is None:
        raise SuggestionNotFound(f"No suggested change with id {suggestion_id}")
    return found, await session.get_one(Norm, found.norm_id)


async def _where_now(store: NormStore, norm: Norm, suggestion: Suggestion) -> tuple[anchoring.Found, list[str]]:
    """Where the suggestion's passage is in the current text, and the heads of that text."""
    async with store.reading(norm.document_id) as doc:
        old = document.read_text(doc, parse_heads(suggestion.anchor_heads))
        new, heads = document.read_text(doc), document.heads_hex(doc)
    # A word diff of the whole text: off the event loop.
    segments = await asyncio.to_thread(word_diff, old, new)
    [found] = anchoring.follow([(suggestion.anchor_quote, suggestion.anchor_start, suggestion.anchor_end)], segments)
    return found, heads


def _require_pending(suggestion: Suggestion) -> None:
    if suggestion.status is not SuggestionStatus.pending:
        raise SuggestionDecided(f"This suggestion was already {suggestion.status.value}", status=suggestion.status.value)


async def accept(
    session: AsyncSession, store: NormStore, now: datetime, participant: Participant, suggestion_id: uuid.UUID, body: Decision
) -> Suggestion:
    """Apply the suggestion as its author's change and record who accepted it (members)."""
    suggestion, norm = await get(session, suggestion_id)
    await membership.require_may_take_part(session, participant.id, "accept a suggested change")
    await membership.require_member(session, norm.network_id, participant.id, MEMBERS_DECIDE)
    _require_pending(suggestion)
    place, heads = await _where_now(store, norm, suggestion)
    if place.state != "exact" or place.start is None or place.end is None:
        raise SuggestionOutdated(
            "The passage has changed since this suggestion was made; its author can refresh it onto the current text",
            state=place.state,
            current=place.current,
        )
    start, end = place.start, place.end
    # Claimed, and committed, before the write: a second acceptance finds it taken.
    claimed = await session.execute(
        update(Suggestion)
        .where(Suggestion.id == suggestion.id, Suggestion.status == SuggestionStatus.pending)
        .values(status=SuggestionStatus.accepted, decided_by=participant.id, decided_at=now, reason=body.reason)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        raise SuggestionDecided("This suggestion was just decided by someone else")
    await hand_back(session)
    try:
        applied = await store.edit(
            norm.document_id,
            suggestion.author_id,
            [(start, end - start, suggestion.replacement)],
            base_heads=heads,
            authorize=norms.edit_permission(participant.id),
        )
    except BaseException:
        await session.execute(
            update(Suggestion)
            .where(Suggestion.id == suggestion.id)
            .values(status=SuggestionStatus.pending, decided_by=None, decided_at=None, reason=None)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        raise
    changes = [change.hash_hex for change in applied.changes]
    # A new transaction that reads, then writes: the write lock first, or a co-editor's change committed between the
    # two would fail it ("database is locked" on SQLite, at once, whatever the busy timeout).
    await take_write_lock(session)
    await session.refresh(suggestion)
    suggestion.changes = changes
    await audit.record(
        session,
        actor_id=participant.id,
        action="suggestion.accepted",
        target_type="suggestion",
        target_id=suggestion.id,
        payload={
            "norm": str(norm.id),
            "suggester": str(suggestion.author_id),
            "passage": suggestion.anchor_quote,
            "replacement": suggestion.replacement,
            "changes": changes,
            "reason": body.reason,
        },
    )
    return suggestion


async def decline(session: AsyncSession, now: datetime, participant: Participant, suggestion_id: uuid.UUID, body: DeclineIn) -> Suggestion:
    """Decline with a public reason (members)."""
    suggestion, norm = await get(session, suggestion_id)
    await membership.require_may_take_part(session, participant.id, "decline a suggested change")
    await membership.require_member(session, norm.network_id, participant.id, MEMBERS_DECIDE)
    _require_pending(suggestion)
    declined = await session.execute(
        update(Suggestion)
        .where(Suggestion.id == suggestion.id, Suggestion.status == SuggestionStatus.pending)
        .values(status=SuggestionStatus.declined, decided_by=participant.id, decided_at=now, reason=body.reason)
        .execution_options(synchronize_session=False)
    )
    if declined.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        raise SuggestionDecided("This suggestion was just decided by someone else")
    await session.refresh(suggestion)
    await audit.record(
        session,
        actor_id=participant.id,
        action="suggestion.declined",
        target_type="suggestion",
        target_id=suggestion.id,
        payload={"norm": str(norm.id), "suggester": str(suggestion.author_id), "passage": suggestion.anchor_quote, "reason": body.reason},
    )
    return suggestion


async def refresh(
    session: AsyncSession, store: NormStore, now: datetime, participant: Participant, suggestion_id: uuid.UUID, body: SuggestionRefresh
) -> Suggestion:
    """Move a pending suggestion onto the passage as it is now (its author), optionally with new replacement text."""
    suggestion, norm = await get(session, suggestion_id)
    if suggestion.author_id != participant.id:
        raise NotTheSuggester()
    _require_pending(suggestion)
    if body.passage is not None:
        start, end, quote, heads, length = await _passage_at(store, norm, body.passage)
    else:
        place, heads = await _where_now(store, norm, suggestion)
        if place.start is None or place.end is None or place.current is None:
            raise PassageChanged("The passage was deleted; point at the passage as it is now", state=place.state, current=None)
        start, end, quote = place.start, place.end, place.current
        async with store.reading(norm.document_id) as doc:
            length = document.text_length(doc)
    replacement = body.replacement if body.replacement is not None else suggestion.replacement
    if quote == replacement:
        raise NothingToChange()
    _check_size(store, length, quote, replacement)
    suggestion.anchor_start, suggestion.anchor_end, suggestion.anchor_quote, suggestion.anchor_heads = start, end, quote, heads
    suggestion.replacement, suggestion.refreshed_at = replacement, now
    await audit.record(
        session,
        actor_id=participant.id,
        action="suggestion.refreshed",
        target_type="suggestion",
        target_id=suggestion.id,
        payload={"norm": str(norm.id), "passage": quote, "replacement": replacement, "anchor": [start, end]},
    )
    return suggestion


# --- Views -----------------------------------------------------------------------------------


def _marks(pairs: Sequence[tuple[str, str]]) -> list[list[Segment]]:
    return [word_diff(quote, replacement) for quote, replacement in pairs]


async def views(
    session: AsyncSession,
    store: NormStore,
    diffs: DiffCache,
    norm: Norm,
    *,
    status: SuggestionStatus | None = None,
    suggestion_id: uuid.UUID | None = None,
) -> list[SuggestionOut]:
    """The norm's suggestions, oldest first, with insertion and deletion marks and whether each is outdated."""
    query = select(Suggestion).where(Suggestion.norm_id == norm.id)
    if status is not None:
        query = query.where(Suggestion.status == status)
    if suggestion_id is not None:
        query = query.where(Suggestion.id == suggestion_id)
    found = (await session.scalars(query.order_by(Suggestion.created_at, Suggestion.id))).all()
    if not found:
        return []
    pending = [s for s in found if s.status is SuggestionStatus.pending]
    places = await discussions.passages_now(
        session, store, diffs, norm, [(s.anchor_heads, s.anchor_quote, s.anchor_start, s.anchor_end) for s in pending]
    )
    where = dict(zip([s.id for s in pending], places, strict=True))
    marks = await asyncio.to_thread(_marks, [(s.anchor_quote, s.replacement) for s in found])
    people = await discussions._people(session, {s.author_id for s in found} | {s.decided_by for s in found if s.decided_by})
    out = []
    for s, segments in zip(found, marks, strict=True):
        place = where.get(s.id) or anchoring.Found("exact", None, None, None)
        out.append(
            SuggestionOut(
                id=s.id,
                norm_id=s.norm_id,
                author=people[s.author_id],
                passage=discussions.passage_out(s.anchor_start, s.anchor_end, s.anchor_quote, s.anchor_heads, place),
                replacement=s.replacement,
                note=s.note,
                marks=[SuggestionMark(op=segment.op, text=segment.text) for segment in segments],
                status=s.status,
                outdated=s.status is SuggestionStatus.pending and place.state != "exact",
                consultation_id=s.consultation_id,
                created_at=s.created_at,
                refreshed_at=s.refreshed_at,
                decided_by=people[s.decided_by] if s.decided_by else None,
                decided_at=s.decided_at,
                reason=s.reason,
                changes=s.changes,
            )
        )
    return out


async def view(session: AsyncSession, store: NormStore, diffs: DiffCache, suggestion: Suggestion) -> SuggestionOut:
    norm = await session.get_one(Norm, suggestion.norm_id)
    [found] = await views(session, store, diffs, norm, suggestion_id=suggestion.id)
    return found


@dataclass(frozen=True)
class Decided:
    """An accepted or declined suggestion as the norm's history shows it."""

    id: uuid.UUID
    status: str
    author: str
    decided_by: str | None
    decided_at: datetime | None
    passage: str
    replacement: str
    reason: str | None
    changes: list[str]


async def decided(session: AsyncSession, norm: Norm) -> list[Decided]:
    """The norm's accepted and declined suggestions, newest decision first, for its history: who suggested,
    who decided, why, and the changes an acceptance made."""
    found = (
        await session.scalars(
            select(Suggestion)
            .where(Suggestion.norm_id == norm.id, Suggestion.status != SuggestionStatus.pending)
            .order_by(Suggestion.decided_at.desc(), Suggestion.id)
        )
    ).all()
    people = await discussions._people(session, {s.author_id for s in found} | {s.decided_by for s in found if s.decided_by})
    return [
        Decided(
            id=s.id,
            status=s.status.value,
            author=people[s.author_id].display_name,
            decided_by=people[s.decided_by].display_name if s.decided_by else None,
            decided_at=s.decided_at,
            passage=s.anchor_quote,
            replacement=s.replacement,
            reason=s.reason,
            changes=s.changes or [],
        )
        for s in found
    ]
