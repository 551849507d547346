"""The events of the domain, each told to those who must act on it or asked to hear of it.

Each function is called by the domain service inside the transaction of the act, after the act's rows are
flushed; it writes the notifications in bulk (`service.notify`) and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from norms import outbox
from services.notifications import service
from services.notifications.models import Kind, Target
from services.notifications.titles import N_
from services.notifications.titles import title as title_of

# The outbox event that a network's public activity feed changed; the worker pushes the feed to its WebSub
# subscribers (`services.clearinghouse.activity_feed`).
NETWORK_ACTIVITY = "network.activity"


async def _activity(session: AsyncSession, network_id: uuid.UUID, at: datetime) -> None:
    await outbox.emit(session, NETWORK_ACTIVITY, {"network_id": str(network_id)}, at=at)


async def _norm(session: AsyncSession, norm_id: uuid.UUID) -> tuple[uuid.UUID, str, str, str]:
    """(network id, network slug, norm slug, norm title)."""
    from networks.models import Network
    from norms.models import Norm

    row = (
        await session.execute(select(Norm.network_id, Network.slug, Norm.slug, Norm.title).join(Network).where(Norm.id == norm_id))
    ).one()
    return row[0], row[1], row[2], row[3]


def _watchers(network_id: uuid.UUID, norm_id: uuid.UUID, *, clearing_house: bool = False) -> service.Recipients:
    targets = [(Target.network, str(network_id)), (Target.norm, str(norm_id))]
    if clearing_house:
        targets.append((Target.clearinghouse, ""))
    return service.followers(*targets)


async def ballot_opened(
    session: AsyncSession,
    *,
    ballot_id: uuid.UUID,
    norm_id: uuid.UUID,
    version: int,
    closes_at: datetime,
    now: datetime,
    actor_id: uuid.UUID,
) -> int:
    network_id, slug, norm_slug, title = await _norm(session, norm_id)
    await _activity(session, network_id, now)
    return await service.notify(
        session,
        Kind.ballot_opened,
        [service.electors(ballot_id)],
        title=title_of(
            N_("Ballot open on %(title)s v%(version)s: vote by %(closes)s UTC"),
            title=title,
            version=version,
            closes=f"{closes_at:%Y-%m-%d %H:%M}",
        ),
        url=f"/networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}",
        now=now,
        network_id=network_id,
        members_only=True,
    )


async def ballot_closing(
    session: AsyncSession, *, ballot_id: uuid.UUID, norm_id: uuid.UUID, version: int, closes_at: datetime, now: datetime
) -> int:
    network_id, slug, norm_slug, title = await _norm(session, norm_id)
    return await service.notify(
        session,
        Kind.ballot_closing,
        [service.electors(ballot_id, not_voted=True)],
        title=title_of(
            N_("You have not voted on %(title)s v%(version)s; the ballot closes %(closes)s UTC"),
            title=title,
            version=version,
            closes=f"{closes_at:%Y-%m-%d %H:%M}",
        ),
        url=f"/networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}",
        now=now,
        network_id=network_id,
        members_only=True,
    )


async def ballot_closed(
    session: AsyncSession, *, ballot_id: uuid.UUID, norm_id: uuid.UUID, version: int, adopted: bool, now: datetime
) -> int:
    network_id, slug, norm_slug, title = await _norm(session, norm_id)
    await _activity(session, network_id, now)
    return await service.notify(
        session,
        Kind.ballot_closed,
        [service.members(network_id), _watchers(network_id, norm_id)],
        title=title_of(
            N_("Ballot on %(title)s v%(version)s closed: adopted")
            if adopted
            else N_("Ballot on %(title)s v%(version)s closed: not adopted"),
            title=title,
            version=version,
        ),
        url=f"/networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}",
        now=now,
        network_id=network_id,
    )


async def norm_adopted(session: AsyncSession, *, norm_id: uuid.UUID, version: int, now: datetime) -> int:
    network_id, slug, norm_slug, title = await _norm(session, norm_id)
    return await service.notify(
        session,
        Kind.norm_adopted,
        [service.members(network_id), _watchers(network_id, norm_id, clearing_house=True)],
        title=title_of(N_("%(title)s v%(version)s was adopted"), title=title, version=version),
        url=f"/networks/{slug}/norms/{norm_slug}",
        now=now,
        network_id=network_id,
    )


async def norm_published(session: AsyncSession, *, entry_id: uuid.UUID, norm_id: uuid.UUID, version: int, path: str, now: datetime) -> int:
    from services.clearinghouse.models import EntryTopic, Topic

    network_id, _slug, _norm_slug, title = await _norm(session, norm_id)
    topics = (
        await session.scalars(select(Topic.slug).join(EntryTopic, EntryTopic.topic_id == Topic.id).where(EntryTopic.entry_id == entry_id))
    ).all()
    return await service.notify(
        session,
        Kind.norm_published,
        [
            service.members(network_id),
            _watchers(network_id, norm_id, clearing_house=True),
            *([service.followers(*((Target.topic, topic) for topic in topics))] if topics else []),
        ],
        title=title_of(N_("%(title)s v%(version)s is published in the clearing house"), title=title, version=version),
        url=path,
        now=now,
        network_id=network_id,
    )


async def version_tagged(session: AsyncSession, *, norm_id: uuid.UUID, version: int, now: datetime, actor_id: uuid.UUID) -> int:
    network_id, slug, norm_slug, title = await _norm(session, norm_id)
    await _activity(session, network_id, now)
    return await service.notify(
        session,
        Kind.version_tagged,
        [service.members(network_id), _watchers(network_id, norm_id)],
        title=title_of(N_("Version %(version)s of %(title)s was tagged"), title=title, version=version),
        url=f"/networks/{slug}/norms/{norm_slug}/versions/{version}",
        now=now,
        network_id=network_id,
        actor_id=actor_id,
    )


async def consultation_opened(
    session: AsyncSession, *, consultation_id: uuid.UUID, norm_id: uuid.UUID, version: int, now: datetime, actor_id: uuid.UUID
) -> int:
    network_id, _slug, _norm_slug, title = await _norm(session, norm_id)
    await _activity(session, network_id, now)
    return await service.notify(
        session,
        Kind.consultation_opened,
        [service.members(network_id), _watchers(network_id, norm_id, clearing_house=True)],
        title=title_of(N_("Public consultation opened on %(title)s v%(version)s"), title=title, version=version),
        url=f"/consultations/{consultation_id}",
        now=now,
        network_id=network_id,
        actor_id=actor_id,
    )


async def consultation_comment(
    session: AsyncSession,
    *,
    consultation_id: uuid.UUID,
    comment_id: uuid.UUID,
    norm_id: uuid.UUID,
    author: str,
    now: datetime,
    actor_id: uuid.UUID,
) -> int:
    network_id, _slug, _norm_slug, title = await _norm(session, norm_id)
    return await service.notify(
        session,
        Kind.consultation_comment,
        [service.members(network_id)],
        title=title_of(N_("%(author)s commented on the consultation on %(title)s"), author=author, title=title),
        url=f"/consultations/{consultation_id}#comment-{comment_id}",
        now=now,
        network_id=network_id,
        members_only=True,
        actor_id=actor_id,
    )


async def comment_answered(
    session: AsyncSession,
    *,
    consultation_id: uuid.UUID,
    comment_id: uuid.UUID,
    author_id: uuid.UUID,
    norm_id: uuid.UUID,
    what: str,
    now: datetime,
    actor_id: uuid.UUID,
    version: int | None = None,
) -> int:
    """The comment's author: it was answered, addressed (in `version`) or declined."""
    _network_id, _slug, _norm_slug, title = await _norm(session, norm_id)
    return await service.notify(
        session,
        Kind.comment_answered,
        [service.person(author_id)],
        title=title_of(ANSWERED[what], title=title, **({"version": version} if version is not None else {})),
        url=f"/consultations/{consultation_id}#comment-{comment_id}",
        now=now,
        actor_id=actor_id,
    )


async def application_received(session: AsyncSession, *, network_id: uuid.UUID, slug: str, name: str, applicant: str, now: datetime) -> int:
    return await service.notify(
        session,
        Kind.application_received,
        [service.conveners(network_id)],
        title=title_of(N_("%(applicant)s applied to join %(name)s"), applicant=applicant, name=name),
        url=f"/networks/{slug}#applications",
        now=now,
        network_id=network_id,
        members_only=True,
    )


async def application_decided(
    session: AsyncSession, *, applicant_id: uuid.UUID, slug: str, name: str, approved: bool, now: datetime
) -> int:
    return await service.notify(
        session,
        Kind.application_decided,
        [service.person(applicant_id)],
        title=title_of(
            N_("Your application to %(name)s was approved: you are a member")
            if approved
            else N_("Your application to %(name)s was declined"),
            name=name,
        ),
        url=f"/networks/{slug}",
        now=now,
    )


async def network_status(session: AsyncSession, *, network_id: uuid.UUID, slug: str, name: str, active: bool, now: datetime) -> int:
    return await service.notify(
        session,
        Kind.network_status,
        [service.members(network_id)],
        title=title_of(
            N_("%(name)s is active: ballots may open")
            if active
            else N_("%(name)s is forming again: its roster no longer meets the charter"),
            name=name,
        ),
        url=f"/networks/{slug}",
        now=now,
        network_id=network_id,
        members_only=True,
    )


# What became of a consultation comment (`comment_answered`'s `what`).
ANSWERED = {
    "answered": N_("Your comment on the consultation on %(title)s was answered"),
    "addressed": N_("Your comment on the consultation on %(title)s was addressed in version %(version)s"),
    "declined": N_("Your comment on the consultation on %(title)s was declined"),
}


# --- Verified affiliations (networks/verifying.py) ------------------------------------------------

VERIFICATION_PAGE = "/verification"


async def vouch_requested(session: AsyncSession, *, requester: str, asked: Sequence[uuid.UUID], now: datetime, actor_id: uuid.UUID) -> int:
    """Each newly asked participant: someone asks them to vouch for their affiliation."""
    if not asked:
        return 0
    return await service.notify(
        session,
        Kind.vouch_requested,
        [service.people(asked)],
        title=title_of(N_("%(requester)s asks you to vouch for their affiliation"), requester=requester),
        url=VERIFICATION_PAGE,
        now=now,
        actor_id=actor_id,
    )


async def affiliation_verified(session: AsyncSession, *, participant_id: uuid.UUID, how: str, now: datetime, actor_id: uuid.UUID) -> int:
    """The person whose affiliation became verified (`how`: "verified by registrar Rita", "vouched by …")."""
    return await service.notify(
        session,
        Kind.affiliation_verified,
        [service.person(participant_id)],
        title=title_of(N_("Your affiliation is now verified (%(how)s)"), how=how),
        url=VERIFICATION_PAGE,
        now=now,
        actor_id=actor_id,
    )


async def affiliation_revoked(session: AsyncSession, *, participant_id: uuid.UUID, note: str, now: datetime, actor_id: uuid.UUID) -> int:
    """The person whose affiliation's verification a registrar revoked, with the registrar's public reason."""
    return await service.notify(
        session,
        Kind.affiliation_verified,
        [service.person(participant_id)],
        title=title_of(N_("A registrar revoked the verification of your affiliation: %(note)s"), note=note),
        url=VERIFICATION_PAGE,
        now=now,
        actor_id=actor_id,
    )


# --- Discussions on a norm (norms/discussions.py) ---------------------------------------------------


async def mentioned(
    session: AsyncSession, *, norm_id: uuid.UUID, thread_id: uuid.UUID, post_id: uuid.UUID, author: str, now: datetime, actor_id: uuid.UUID
) -> int:
    """Each member the post names with `@` (its `Mention` rows, flushed before), once."""
    from norms.drafting_models import Mention

    network_id, slug, norm_slug, title = await _norm(session, norm_id)
    return await service.notify(
        session,
        Kind.mention,
        [select(Mention.participant_id).where(Mention.post_id == post_id)],
        title=title_of(N_("%(author)s mentioned you in a discussion on %(title)s"), author=author, title=title),
        url=f"/networks/{slug}/norms/{norm_slug}#thread-{thread_id}",
        now=now,
        network_id=network_id,
        members_only=True,
        actor_id=actor_id,
    )


async def discussion_replied(
    session: AsyncSession, *, norm_id: uuid.UUID, thread_id: uuid.UUID, post_id: uuid.UUID, author: str, now: datetime, actor_id: uuid.UUID
) -> int:
    """Everyone who posted earlier in the thread, but not the replier, nor those the reply mentions (told so already)."""
    from norms.drafting_models import Mention, ThreadPost

    network_id, slug, norm_slug, title = await _norm(session, norm_id)
    earlier = (
        select(ThreadPost.author_id)
        .where(
            ThreadPost.thread_id == thread_id,
            ThreadPost.id != post_id,
            ~exists().where(Mention.post_id == post_id, Mention.participant_id == ThreadPost.author_id),
        )
        .distinct()
    )
    return await service.notify(
        session,
        Kind.discussion_reply,
        [earlier],
        title=title_of(N_("%(author)s replied in a discussion on %(title)s"), author=author, title=title),
        url=f"/networks/{slug}/norms/{norm_slug}#thread-{thread_id}",
        now=now,
        network_id=network_id,
        members_only=True,
        actor_id=actor_id,
    )
