""" "Awaiting you": what a signed-in expert is asked to do now — ballots to vote in, applications to decide,
consultation comments to answer, requests to vouch for a colleague's affiliation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from networks.models import Affiliation, Application, ApplicationStatus, MemberRole, Membership, Network, Vouch, VouchRequest
from norms.consultation_models import CommentStatus, Consultation, ConsultationComment
from norms.models import Ballot, BallotElector, BallotStatus, BallotVote, Norm
from services.accounts.models import Participant
from services.web.i18n import formatted

LIMIT = 20


@dataclass(frozen=True)
class Item:
    title: str
    url: str
    when: datetime | None = None


@dataclass
class Awaiting:
    ballots: list[Item] = field(default_factory=list)
    applications: list[Item] = field(default_factory=list)
    comments: list[Item] = field(default_factory=list)
    comments_total: int = 0
    vouches: list[Item] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.ballots or self.applications or self.comments or self.vouches)


async def awaiting(session: AsyncSession, participant_id: uuid.UUID, now: datetime) -> Awaiting:
    found = Awaiting()
    ballots = await session.execute(
        select(Ballot.id, Ballot.version_number, Ballot.closes_at, Norm.slug, Norm.title, Network.slug)
        .join(BallotElector, (BallotElector.ballot_id == Ballot.id) & (BallotElector.participant_id == participant_id))
        .join(Norm, Norm.id == Ballot.norm_id)
        .join(Network, Network.id == Norm.network_id)
        .where(
            Ballot.status == BallotStatus.open,
            Ballot.closes_at > now,
            ~exists().where(BallotVote.ballot_id == Ballot.id, BallotVote.participant_id == participant_id),
        )
        .order_by(Ballot.closes_at)
        .limit(LIMIT)
    )
    found.ballots = [
        Item(
            formatted("Vote on %(title)s v%(version)s", title=title, version=version),
            f"/networks/{network}/norms/{norm}/ballots/{ballot_id}",
            closes_at,
        )
        for ballot_id, version, closes_at, norm, title, network in ballots
    ]
    convener_of = select(Membership.network_id).where(Membership.participant_id == participant_id, Membership.role == MemberRole.convener)
    applications = await session.execute(
        select(Participant.display_name, Network.slug, Network.name, Application.created_at)
        .join(Participant, Participant.id == Application.participant_id)
        .join(Network, Network.id == Application.network_id)
        .where(Application.status == ApplicationStatus.pending, Application.network_id.in_(convener_of))
        .order_by(Application.created_at)
        .limit(LIMIT)
    )
    found.applications = [
        Item(formatted("%(name)s applied to %(network)s", name=name, network=network), f"/networks/{slug}#applications", at)
        for name, slug, network, at in applications
    ]
    member_of = select(Membership.network_id).where(Membership.participant_id == participant_id)
    open_comments = (
        select(
            ConsultationComment.id,
            ConsultationComment.consultation_id,
            ConsultationComment.created_at,
            Norm.title,
            Participant.display_name,
        )
        .join(Consultation, Consultation.id == ConsultationComment.consultation_id)
        .join(Norm, Norm.id == Consultation.norm_id)
        .join(Participant, Participant.id == ConsultationComment.author_id)
        .where(
            ConsultationComment.status == CommentStatus.open,
            ConsultationComment.hidden.is_(False),
            ConsultationComment.author_id != participant_id,
            Norm.network_id.in_(member_of),
        )
    )
    found.comments_total = int(await session.scalar(select(func.count()).select_from(open_comments.subquery())) or 0)
    comments = await session.execute(open_comments.order_by(ConsultationComment.created_at).limit(LIMIT))
    found.comments = [
        Item(formatted("%(author)s on %(title)s", author=author, title=title), f"/consultations/{consultation_id}#comment-{comment_id}", at)
        for comment_id, consultation_id, at, title, author in comments
    ]
    # Asked to vouch, for an affiliation still current, and not vouching for it yet.
    vouches = await session.execute(
        select(Participant.display_name, VouchRequest.created_at)
        .join(Affiliation, Affiliation.id == VouchRequest.affiliation_id)
        .join(Participant, Participant.id == Affiliation.participant_id)
        .where(
            VouchRequest.asked_id == participant_id,
            Affiliation.valid_to.is_(None),
            Participant.deleted_at.is_(None),
            ~exists().where(Vouch.affiliation_id == Affiliation.id, Vouch.voucher_id == participant_id, Vouch.withdrawn_at.is_(None)),
        )
        .order_by(VouchRequest.created_at)
        .limit(LIMIT)
    )
    found.vouches = [
        Item(formatted("%(requester)s asks you to vouch for their affiliation", requester=name), "/verification#requests-title", at)
        for name, at in vouches
    ]
    return found
