"""Discussions on a norm: threads, optionally on a passage of the text, replies with `@mentions` of network
members, resolve and reopen, and conveners hiding abuse with a public reason.

Members open threads and reply; everyone who can read the norm reads them. A thread's passage is anchored by
norms/anchoring.py, the same mechanism as consultation comments: it follows edits, and a thread whose passage
was deleted is shown detached. Every act is in the audit log (the network's public activity draws on it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from networks import membership
from norms import anchoring, document
from norms import service as norms
from norms.diff import DiffCache, Segment
from norms.drafting_models import Mention, Thread, ThreadPost, ThreadStatus
from norms.drafting_schemas import HideIn, MentionOut, PassageIn, PassageOut, PostCreate, PostOut, ThreadCreate, ThreadOut, ThreadState
from norms.models import Norm
from norms.schemas import PersonRef
from norms.store import NormStore, parse_heads
from services.accounts.models import Participant
from services.audit import service as audit
from services.kit.errors import NotFound
from services.notifications import events as notifications

MEMBERS_ONLY = "Only members of the norm's network take part in its discussions"


class ThreadNotFound(NotFound):
    """No such discussion thread."""

    code = "thread_not_found"


class PostNotFound(NotFound):
    """No such post."""

    code = "post_not_found"


# --- Mentions --------------------------------------------------------------------------------

_WORD = re.compile(r"\w")


def find_mentions(body: str, members: dict[uuid.UUID, str]) -> list[tuple[uuid.UUID, int, int]]:
    """Each `@Display Name` of a member in `body` as (participant, start, end), the longest name first where two
    fit; an `@` naming no member (a non-member, a typo) is left as text and mentions no one."""
    names = sorted(((name.casefold(), pid) for pid, name in members.items() if name.strip()), key=lambda item: -len(item[0]))
    folded = body.casefold()
    found = []
    index = body.find("@")
    while index != -1:
        for name, pid in names:
            end = index + 1 + len(name)
            if folded.startswith(name, index + 1) and not (end < len(body) and _WORD.match(body[end])):
                found.append((pid, index, end))
                break
        index = body.find("@", index + 1)
    return found


async def _member_names(session: AsyncSession, network_id: uuid.UUID) -> dict[uuid.UUID, str]:
    ids = await membership.member_ids(session, network_id)
    if not ids:
        return {}
    rows = await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(ids)))
    return {row.id: row.display_name for row in rows}


async def notify_mentioned(
    session: AsyncSession, norm: Norm, post: ThreadPost, author: Participant, mentioned: Sequence[uuid.UUID]
) -> None:
    """Tell each mentioned member of `post` (its `Mention` rows: members only, each once), in the post's transaction."""
    if mentioned:
        await notifications.mentioned(
            session,
            norm_id=norm.id,
            thread_id=post.thread_id,
            post_id=post.id,
            author=author.display_name,
            now=post.created_at,
            actor_id=author.id,
        )


async def notify_replied(session: AsyncSession, norm: Norm, thread: Thread, post: ThreadPost, author: Participant) -> None:
    """Tell the thread's earlier posters of a reply (not the replier, nor whom it mentions), in its transaction."""
    await notifications.discussion_replied(
        session, norm_id=norm.id, thread_id=thread.id, post_id=post.id, author=author.display_name, now=post.created_at, actor_id=author.id
    )


async def _post(session: AsyncSession, norm: Norm, thread: Thread, author: Participant, body: str, now: datetime) -> ThreadPost:
    post = ThreadPost(thread_id=thread.id, author_id=author.id, body=body, created_at=now, hidden=False)
    session.add(post)
    await session.flush()
    mentioned = list(dict.fromkeys(pid for pid, _, _ in find_mentions(body, await _member_names(session, norm.network_id))))
    session.add_all(Mention(post_id=post.id, participant_id=pid) for pid in mentioned)
    thread.updated_at = now
    await session.flush()
    await notify_mentioned(session, norm, post, author, mentioned)
    return post


# --- Use cases -------------------------------------------------------------------------------


async def current_passage(store: NormStore, norm: Norm, passage: PassageIn) -> tuple[int, int, str, list[str]]:
    """The passage a person pointed at, checked against the text at its heads (the current text by default):
    (start, end, quote, heads). AnchorInvalid when it is not there."""
    async with store.reading(norm.document_id) as doc:
        if passage.heads:
            heads = parse_heads(passage.heads)
            if not all(document.has_change(doc, head) for head in heads):
                raise anchoring.AnchorInvalid("Those heads are not in this norm's history")
            text, at = document.read_text(doc, heads), sorted(h.hex() for h in heads)
        else:
            text, at = document.read_text(doc), document.heads_hex(doc)
    quote = anchoring.passage(text, passage.start, passage.end, passage.quote, "the text")
    return passage.start, passage.end, quote, at


async def open_thread(
    session: AsyncSession, store: NormStore, now: datetime, participant: Participant, norm: Norm, body: ThreadCreate
) -> Thread:
    await membership.require_may_take_part(session, participant.id, "discuss a norm")
    await membership.require_member(session, norm.network_id, participant.id, MEMBERS_ONLY)
    start = end = quote = heads = None
    if body.anchor is not None:
        start, end, quote, heads = await current_passage(store, norm, body.anchor)
    thread = Thread(
        norm_id=norm.id,
        author_id=participant.id,
        anchor_start=start,
        anchor_end=end,
        anchor_quote=quote,
        anchor_heads=heads,
        status=ThreadStatus.open,
        created_at=now,
        updated_at=now,
    )
    session.add(thread)
    await session.flush()
    post = await _post(session, norm, thread, participant, body.body, now)
    await audit.record(
        session,
        actor_id=participant.id,
        action="discussion.opened",
        target_type="discussion_thread",
        target_id=thread.id,
        payload={"norm": str(norm.id), "post": str(post.id), "body": body.body, "anchor": [start, end] if start is not None else None},
    )
    return thread


async def find_thread(session: AsyncSession, thread_id: uuid.UUID) -> tuple[Thread, Norm]:
    thread = await session.get(Thread, thread_id)
    if thread is None:
        raise ThreadNotFound(f"No discussion thread with id {thread_id}")
    return thread, await session.get_one(Norm, thread.norm_id)


async def reply(session: AsyncSession, now: datetime, participant: Participant, thread_id: uuid.UUID, body: PostCreate) -> Thread:
    thread, norm = await find_thread(session, thread_id)
    await membership.require_may_take_part(session, participant.id, "discuss a norm")
    await membership.require_member(session, norm.network_id, participant.id, MEMBERS_ONLY)
    post = await _post(session, norm, thread, participant, body.body, now)
    await notify_replied(session, norm, thread, post, participant)
    await audit.record(
        session,
        actor_id=participant.id,
        action="discussion.replied",
        target_type="discussion_thread",
        target_id=thread.id,
        payload={"norm": str(norm.id), "post": str(post.id), "body": body.body},
    )
    return thread


async def set_status(session: AsyncSession, now: datetime, participant: Participant, thread_id: uuid.UUID, body: ThreadState) -> Thread:
    """Resolve or reopen (members); setting the status it has changes nothing."""
    thread, norm = await find_thread(session, thread_id)
    await membership.require_member(session, norm.network_id, participant.id, MEMBERS_ONLY)
    if thread.status is body.status:
        return thread
    thread.status, thread.updated_at = body.status, now
    resolved = body.status is ThreadStatus.resolved
    thread.resolved_by, thread.resolved_at = (participant.id, now) if resolved else (None, None)
    await audit.record(
        session,
        actor_id=participant.id,
        action="discussion.resolved" if resolved else "discussion.reopened",
        target_type="discussion_thread",
        target_id=thread.id,
        payload={"norm": str(norm.id)},
    )
    return thread


async def hide_post(session: AsyncSession, now: datetime, participant: Participant, post_id: uuid.UUID, body: HideIn) -> Thread:
    """Hide an abusive post with a public reason (conveners); its text stays in the audit log."""
    post = await session.get(ThreadPost, post_id)
    if post is None:
        raise PostNotFound(f"No post with id {post_id}")
    thread, norm = await find_thread(session, post.thread_id)
    await membership.require_convener(session, norm.network_id, participant.id, "Only a convener of the norm's network may hide a post")
    post.hidden, post.hidden_reason, post.hidden_by, post.hidden_at = True, body.reason, participant.id, now
    thread.updated_at = now
    await audit.record(
        session,
        actor_id=participant.id,
        action="discussion.post_hidden",
        target_type="discussion_thread",
        target_id=thread.id,
        payload={"norm": str(norm.id), "post": str(post.id), "reason": body.reason},
    )
    return thread


# --- Views -----------------------------------------------------------------------------------


async def passages_now(
    session: AsyncSession, store: NormStore, diffs: DiffCache, norm: Norm, anchors: Sequence[tuple[list[str], str, int, int]]
) -> list[anchoring.Found]:
    """Each (heads, quote, start, end) anchor found in the current text: one word diff per distinct heads, kept
    in the diff cache (norms/anchoring.py maps the ranges)."""
    by_heads: dict[str, list[int]] = {}
    for index, (heads, *_rest) in enumerate(anchors):
        by_heads.setdefault(",".join(sorted(heads)), []).append(index)
    found: list[anchoring.Found | None] = [None] * len(anchors)
    for ref, indexes in by_heads.items():
        diff = await norms.word_diff(session, store, diffs, norm, ref, "current")
        segments = [Segment(segment.op, segment.text) for segment in diff.segments]
        for index, place in zip(indexes, anchoring.follow([anchors[i][1:] for i in indexes], segments), strict=True):
            found[index] = place
    return [place for place in found if place is not None]


def passage_out(start: int, end: int, quote: str, heads: list[str], place: anchoring.Found) -> PassageOut:
    return PassageOut(
        start=start,
        end=end,
        quote=quote,
        heads=heads,
        state=place.state,
        current_start=place.start,
        current_end=place.end,
        current=place.current,
    )


async def _people(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, PersonRef]:
    if not ids:
        return {}
    rows = await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(ids)))
    return {row.id: PersonRef(id=row.id, display_name=row.display_name) for row in rows}


async def threads(
    session: AsyncSession, store: NormStore, diffs: DiffCache, norm: Norm, *, thread_id: uuid.UUID | None = None
) -> list[ThreadOut]:
    """The norm's threads, oldest first, each with its posts, mentions and where its passage is now."""
    query = select(Thread).where(Thread.norm_id == norm.id)
    if thread_id is not None:
        query = query.where(Thread.id == thread_id)
    found = (await session.scalars(query.order_by(Thread.created_at, Thread.id))).all()
    if not found:
        return []
    posts = (
        await session.scalars(
            select(ThreadPost).where(ThreadPost.thread_id.in_([t.id for t in found])).order_by(ThreadPost.created_at, ThreadPost.id)
        )
    ).all()
    mentions: dict[uuid.UUID, set[uuid.UUID]] = {}
    for post_id, pid in await session.execute(
        select(Mention.post_id, Mention.participant_id).where(Mention.post_id.in_([p.id for p in posts]))
    ):
        mentions.setdefault(post_id, set()).add(pid)
    people = await _people(
        session,
        {t.author_id for t in found}
        | {t.resolved_by for t in found if t.resolved_by}
        | {p.author_id for p in posts}
        | {pid for ids in mentions.values() for pid in ids},
    )
    anchored = [t for t in found if t.anchor_start is not None]
    places = await passages_now(
        session,
        store,
        diffs,
        norm,
        [(t.anchor_heads or [], t.anchor_quote or "", t.anchor_start or 0, t.anchor_end or 0) for t in anchored],
    )
    where = dict(zip([t.id for t in anchored], places, strict=True))
    by_thread: dict[uuid.UUID, list[PostOut]] = {t.id: [] for t in found}
    for p in posts:
        linked = mentions.get(p.id, set())
        # Where each linked mention is in the body, found again as it was parsed.
        spots = [] if p.hidden else [(pid, s, e) for pid, s, e in find_mentions(p.body, {pid: people[pid].display_name for pid in linked})]
        by_thread[p.thread_id].append(
            PostOut(
                id=p.id,
                author=people[p.author_id],
                body=None if p.hidden else p.body,
                created_at=p.created_at,
                hidden=p.hidden,
                hidden_reason=p.hidden_reason,
                mentions=[MentionOut(participant=people[pid], start=s, end=e) for pid, s, e in spots],
            )
        )
    return [
        ThreadOut(
            id=t.id,
            norm_id=t.norm_id,
            author=people[t.author_id],
            status=t.status,
            anchor=passage_out(t.anchor_start, t.anchor_end or 0, t.anchor_quote or "", t.anchor_heads or [], where[t.id])
            if t.anchor_start is not None
            else None,
            created_at=t.created_at,
            updated_at=t.updated_at,
            resolved_by=people[t.resolved_by] if t.resolved_by else None,
            resolved_at=t.resolved_at,
            posts=by_thread[t.id],
        )
        for t in found
    ]


async def thread_view(session: AsyncSession, store: NormStore, diffs: DiffCache, thread: Thread) -> ThreadOut:
    norm = await session.get_one(Norm, thread.norm_id)
    [found] = await threads(session, store, diffs, norm, thread_id=thread.id)
    return found


async def last_change(session: AsyncSession, norm: Norm) -> tuple[int, datetime | None]:
    """How many threads the norm has and when the latest changed: what the page's poll compares (its ETag)."""
    rows = (await session.execute(select(Thread.updated_at).where(Thread.norm_id == norm.id))).scalars().all()
    return len(rows), max(rows, default=None)
