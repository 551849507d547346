"""Public consultations: a convener opens a version for comment; anyone signed in comments, anchored
to a passage or not; members reply and resolve; conveners hide abuse with a public reason.

Anchors are stored as the range and the quoted passage of the consultation's version, and found
again in a later text by norms/anchoring.py; the diff it maps through is computed off the event loop
and kept per (version, current heads), so page views do not diff again.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from networks import membership
from networks import service as networks
from networks.errors import AffiliationRequired
from networks.models import Network
from norms import service as norms
from norms.anchoring import passage, reanchor
from norms.consultation_models import CommentReply, CommentStatus, Consultation, ConsultationComment
from norms.consultation_schemas import (
    AnchorOut,
    CommentCreate,
    CommentOut,
    ConsultationCreate,
    ConsultationOut,
    CurrentAnchor,
    Moderation,
    ReplyCreate,
    ReplyOut,
    Resolution,
    Summary,
)
from norms.diff import DiffCache, spelled
from norms.errors import VersionNotFound
from norms.models import Norm, NormVersion
from norms.schemas import PersonRef
from norms.store import NormStore
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit.errors import Conflict, InvalidInput, NotFound
from services.notifications import events as notifications

MAX_DAYS = 366


class ConsultationNotFound(NotFound):
    """No such consultation."""

    code = "consultation_not_found"


class CommentNotFound(NotFound):
    """No such comment."""

    code = "comment_not_found"


class ConsultationClosed(Conflict):
    """The consultation is closed: comments are no longer taken."""

    code = "consultation_closed"


class ClosingInvalid(InvalidInput):
    """`closes_at` must be in the future and within a year."""

    code = "closes_at_invalid"


# --- Lookups ---------------------------------------------------------------------------------


def is_open(consultation: Consultation, now: datetime) -> bool:
    return consultation.closed_at is None and now < consultation.closes_at


async def get_consultation(session: AsyncSession, consultation_id: uuid.UUID) -> Consultation:
    found = await session.get(Consultation, consultation_id)
    if found is None:
        raise ConsultationNotFound(f"No consultation with id {consultation_id}")
    return found


async def find_comment(session: AsyncSession, comment_id: uuid.UUID) -> tuple[ConsultationComment, Consultation, Norm]:
    comment = await session.get(ConsultationComment, comment_id)
    if comment is None:
        raise CommentNotFound(f"No comment with id {comment_id}")
    consultation = await get_consultation(session, comment.consultation_id)
    return comment, consultation, await session.get_one(Norm, consultation.norm_id)


async def _require_member(session: AsyncSession, norm: Norm, participant_id: uuid.UUID) -> None:
    await membership.require_member(
        session, norm.network_id, participant_id, "Only members of the norm's network may answer or resolve comments"
    )


async def _require_convener(session: AsyncSession, norm: Norm, participant_id: uuid.UUID) -> None:
    await membership.require_convener(session, norm.network_id, participant_id, "Only a convener of the norm's network may do this")


async def _version(session: AsyncSession, norm: Norm, number: int) -> NormVersion:
    version = await session.scalar(select(NormVersion).where(NormVersion.norm_id == norm.id, NormVersion.number == number))
    if version is None:
        raise VersionNotFound(f"Norm {norm.id} has no version {number}")
    return version


# --- Use cases -------------------------------------------------------------------------------


async def open_consultation(
    session: AsyncSession, now: datetime, participant: Participant, norm: Norm, body: ConsultationCreate
) -> Consultation:
    await _require_convener(session, norm, participant.id)
    version = await _version(session, norm, body.version)
    closes_at = body.closes_at
    if closes_at.tzinfo is None:
        raise ClosingInvalid("closes_at needs a time zone, e.g. 2030-01-31T12:00:00Z")
    if closes_at <= now or closes_at > now + timedelta(days=MAX_DAYS):
        raise ClosingInvalid()
    consultation = Consultation(
        norm_id=norm.id,
        version_id=version.id,
        version_number=version.number,
        question=body.question,
        opened_by=participant.id,
        opened_at=now,
        closes_at=closes_at,
    )
    session.add(consultation)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="consultation.opened",
        target_type="consultation",
        target_id=consultation.id,
        payload={"norm": str(norm.id), "version": version.number, "question": body.question, "closes_at": closes_at.isoformat()},
    )
    await notifications.consultation_opened(
        session, consultation_id=consultation.id, norm_id=norm.id, version=version.number, now=now, actor_id=participant.id
    )
    return consultation


async def close_consultation(session: AsyncSession, now: datetime, participant: Participant, consultation: Consultation) -> None:
    norm = await session.get_one(Norm, consultation.norm_id)
    await _require_convener(session, norm, participant.id)
    if not is_open(consultation, now):
        return
    consultation.closed_at = now
    await audit.record(
        session, actor_id=participant.id, action="consultation.closed", target_type="consultation", target_id=consultation.id, payload={}
    )


async def add_comment(
    session: AsyncSession, store: NormStore, now: datetime, participant: Participant, consultation: Consultation, body: CommentCreate
) -> ConsultationComment:
    if not is_open(consultation, now):
        raise ConsultationClosed()
    await membership.require_may_take_part(session, participant.id, "comment on a consultation as an expert")
    await membership.require_participant(session, participant.id)
    affiliation = await networks.current_affiliation(session, participant.id)
    if affiliation is None:
        # A comment states its author's affiliation.
        raise AffiliationRequired("comment on a consultation")
    start = end = quote = None
    if body.anchor is not None:
        version = await session.get_one(NormVersion, consultation.version_id)
        start, end = body.anchor.start, body.anchor.end
        quote = passage(version.text, start, end, body.anchor.quote, f"version {version.number}'s text")
    comment = ConsultationComment(
        consultation_id=consultation.id,
        author_id=participant.id,
        body=body.body,
        anchor_start=start,
        anchor_end=end,
        anchor_quote=quote,
        stakeholder_group=affiliation.stakeholder_group,
        country=affiliation.country,
        region=affiliation.region,
        organisation=affiliation.organisation,
        created_at=now,
        status=CommentStatus.open,
        hidden=False,
    )
    session.add(comment)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="consultation.commented",
        target_type="consultation_comment",
        target_id=comment.id,
        payload={"consultation": str(consultation.id), "body": body.body, "anchor": [start, end] if start is not None else None},
    )
    await notifications.consultation_comment(
        session,
        consultation_id=consultation.id,
        comment_id=comment.id,
        norm_id=consultation.norm_id,
        author=participant.display_name,
        now=now,
        actor_id=participant.id,
    )
    return comment


async def reply(
    session: AsyncSession, now: datetime, participant: Participant, comment_id: uuid.UUID, body: ReplyCreate
) -> ConsultationComment:
    comment, _, norm = await find_comment(session, comment_id)
    await _require_member(session, norm, participant.id)
    answer = CommentReply(comment_id=comment.id, author_id=participant.id, body=body.body, created_at=now)
    session.add(answer)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="consultation.replied",
        target_type="consultation_comment",
        target_id=comment.id,
        payload={"reply": str(answer.id), "body": body.body},
    )
    await notifications.comment_answered(
        session,
        consultation_id=comment.consultation_id,
        comment_id=comment.id,
        author_id=comment.author_id,
        norm_id=norm.id,
        what="answered",
        now=now,
        actor_id=participant.id,
    )
    return comment


async def resolve(
    session: AsyncSession, now: datetime, participant: Participant, comment_id: uuid.UUID, body: Resolution
) -> ConsultationComment:
    comment, _, norm = await find_comment(session, comment_id)
    await _require_member(session, norm, participant.id)
    if body.status == "addressed":
        assert body.version is not None  # Resolution's validator requires it for `addressed`
        await _version(session, norm, body.version)
        comment.status, comment.addressed_in_version, comment.decline_reason = CommentStatus.addressed, body.version, None
    else:
        comment.status, comment.addressed_in_version, comment.decline_reason = CommentStatus.declined, None, body.reason
    comment.resolved_by, comment.resolved_at = participant.id, now
    await audit.record(
        session,
        actor_id=participant.id,
        action=f"consultation.comment_{body.status}",
        target_type="consultation_comment",
        target_id=comment.id,
        payload={"version": body.version, "reason": body.reason},
    )
    await notifications.comment_answered(
        session,
        consultation_id=comment.consultation_id,
        comment_id=comment.id,
        author_id=comment.author_id,
        norm_id=norm.id,
        what=body.status,
        version=body.version if body.status == "addressed" else None,
        now=now,
        actor_id=participant.id,
    )
    return comment


async def hide(
    session: AsyncSession, now: datetime, participant: Participant, comment_id: uuid.UUID, body: Moderation
) -> ConsultationComment:
    comment, _, norm = await find_comment(session, comment_id)
    await _require_convener(session, norm, participant.id)
    comment.hidden, comment.hidden_reason, comment.hidden_by, comment.hidden_at = True, body.reason, participant.id, now
    await audit.record(
        session,
        actor_id=participant.id,
        action="consultation.comment_hidden",
        target_type="consultation_comment",
        target_id=comment.id,
        payload={"reason": body.reason},
    )
    return comment


# --- Views -----------------------------------------------------------------------------------


async def _people(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(ids)))
    return {row.id: row.display_name for row in rows}


async def comments(session: AsyncSession, consultation_id: uuid.UUID, *, comment_id: uuid.UUID | None = None) -> list[CommentOut]:
    """The consultation's comments, oldest first, with replies; a hidden comment shows its reason, not its text."""
    query = select(ConsultationComment).where(ConsultationComment.consultation_id == consultation_id)
    if comment_id is not None:
        query = query.where(ConsultationComment.id == comment_id)
    found = (await session.scalars(query.order_by(ConsultationComment.created_at, ConsultationComment.id))).all()
    replies: dict[uuid.UUID, list[CommentReply]] = {comment.id: [] for comment in found}
    if found:
        rows = await session.scalars(
            select(CommentReply).where(CommentReply.comment_id.in_(replies)).order_by(CommentReply.created_at, CommentReply.id)
        )
        for row in rows:
            replies[row.comment_id].append(row)
    people = await _people(session, {c.author_id for c in found} | {r.author_id for rs in replies.values() for r in rs})
    return [
        CommentOut(
            id=c.id,
            consultation_id=c.consultation_id,
            author=PersonRef(id=c.author_id, display_name=people[c.author_id]),
            body=None if c.hidden else c.body,
            anchor=AnchorOut(start=c.anchor_start, end=c.anchor_end, quote=c.anchor_quote) if c.anchor_start is not None else None,
            stakeholder_group=c.stakeholder_group,
            country=c.country,
            region=c.region,
            organisation=c.organisation,
            created_at=c.created_at,
            status=c.status,
            addressed_in_version=c.addressed_in_version,
            decline_reason=c.decline_reason,
            hidden=c.hidden,
            hidden_reason=c.hidden_reason,
            replies=[
                ReplyOut(id=r.id, author=PersonRef(id=r.author_id, display_name=people[r.author_id]), body=r.body, created_at=r.created_at)
                for r in replies[c.id]
            ],
        )
        for c in found
    ]


async def summary(session: AsyncSession, consultation_id: uuid.UUID) -> Summary:
    """Counts of visible comments per stakeholder group, region and status (hidden ones counted apart)."""
    found = (await session.scalars(select(ConsultationComment).where(ConsultationComment.consultation_id == consultation_id))).all()
    shown = [c for c in found if not c.hidden]
    by_status = Counter({status.value: 0 for status in CommentStatus}) + Counter(c.status.value for c in shown)
    return Summary(
        comments=len(shown),
        by_group=dict(Counter(c.stakeholder_group for c in shown)),
        by_region=dict(Counter(c.region for c in shown)),
        by_status={status.value: by_status.get(status.value, 0) for status in CommentStatus},
        hidden=len(found) - len(shown),
    )


def page_url(base_url: str, consultation_id: uuid.UUID) -> str:
    return f"{base_url}/consultations/{consultation_id}"


async def views(session: AsyncSession, found: list[Consultation], now: datetime, base_url: str) -> list[ConsultationOut]:
    if not found:
        return []
    norms = {norm.id: norm for norm in (await session.scalars(select(Norm).where(Norm.id.in_({c.norm_id for c in found})))).all()}
    slugs = {
        network_id: slug
        for network_id, slug in await session.execute(
            select(Network.id, Network.slug).where(Network.id.in_({n.network_id for n in norms.values()}))
        )
    }
    counts = {
        consultation_id: count
        for consultation_id, count in await session.execute(
            select(ConsultationComment.consultation_id, func.count())
            .where(ConsultationComment.consultation_id.in_({c.id for c in found}), ConsultationComment.hidden.is_(False))
            .group_by(ConsultationComment.consultation_id)
        )
    }
    people = await _people(session, {c.opened_by for c in found})
    out = []
    for c in found:
        norm, closed = norms[c.norm_id], not is_open(c, now)
        out.append(
            ConsultationOut(
                id=c.id,
                norm_id=c.norm_id,
                norm_title=norm.title,
                network=slugs[norm.network_id],
                version=c.version_number,
                question=c.question,
                opened_by=PersonRef(id=c.opened_by, display_name=people[c.opened_by]),
                opened_at=c.opened_at,
                closes_at=c.closes_at,
                closed_at=c.closed_at or (c.closes_at if closed else None),
                status="closed" if closed else "open",
                comment_count=counts.get(c.id, 0),
                url=page_url(base_url, c.id),
                summary=await summary(session, c.id) if closed else None,
            )
        )
    return out


async def view(session: AsyncSession, consultation: Consultation, now: datetime, base_url: str) -> ConsultationOut:
    [found] = await views(session, [consultation], now, base_url)
    return found


async def list_consultations(
    session: AsyncSession,
    now: datetime,
    *,
    status: str | None = None,
    norm_id: uuid.UUID | None = None,
    network: str | None = None,
    limit: int = 100,
) -> list[Consultation]:
    """Newest first; `status` "open" or "closed"; `network` a network's slug."""
    query = select(Consultation)
    if norm_id is not None:
        query = query.where(Consultation.norm_id == norm_id)
    if network is not None:
        query = query.where(
            Consultation.norm_id.in_(select(Norm.id).join(Network, Network.id == Norm.network_id).where(Network.slug == network))
        )
    if status == "open":
        query = query.where(Consultation.closed_at.is_(None), Consultation.closes_at > now)
    elif status == "closed":
        query = query.where((Consultation.closed_at.is_not(None)) | (Consultation.closes_at <= now))
    return list((await session.scalars(query.order_by(Consultation.opened_at.desc(), Consultation.id).limit(limit))).all())


async def current_anchors(session: AsyncSession, store: NormStore, diffs: DiffCache, consultation: Consultation) -> list[CurrentAnchor]:
    """Each visible anchored comment's passage found in the norm's current text."""
    norm = await session.get_one(Norm, consultation.norm_id)
    version = await session.get_one(NormVersion, consultation.version_id)
    anchored = (
        await session.scalars(
            select(ConsultationComment)
            .where(
                ConsultationComment.consultation_id == consultation.id,
                ConsultationComment.anchor_start.is_not(None),
                ConsultationComment.hidden.is_(False),
            )
            .order_by(ConsultationComment.anchor_start, ConsultationComment.created_at)
        )
    ).all()
    if not anchored:
        return []
    segments = (await norms.versions_diff(store, diffs, norm, version)).segments
    old, new = spelled(segments)
    out = []
    for c in anchored:
        # Selected for their start; add_comment sets start, end and quote together.
        assert c.anchor_quote is not None and c.anchor_start is not None and c.anchor_end is not None
        state, start, end = reanchor(c.anchor_quote, c.anchor_start, c.anchor_end, old, new, segments)
        out.append(
            CurrentAnchor(
                comment_id=c.id,
                state=state,
                start=start,
                end=end,
                quote=c.anchor_quote,
                current=new[start:end] if start is not None else None,
            )
        )
    return out
