"""A person's own data: all of it as JSON to download, and deleting the account.

Deleting keeps the public record whole: the participant's row stays (votes, comments, edits and audit events
point at it) but loses everything that identifies the person — email, name, password, second factor,
sessions — and shows a pseudonym ("Former participant 7f3a") beside their public acts from then on. No audit
event is altered, so the chain and its signed tree heads still verify.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from networks import service as networks
from networks.models import Affiliation, Application, Membership, Network
from networks.taxonomy import Taxonomy
from norms.consultation_models import CommentReply, Consultation, ConsultationComment
from norms.models import Ballot, BallotVote, Norm
from services.accounts import sessions
from services.accounts.models import Participant, ProvenAddress, RecoveryCode, Role
from services.audit import service as audit

EXPORT_FORMAT = "cogov-personal-data/1"
# Never a deliverable address (RFC 2606 reserves .invalid), unique by the account's id.
DELETED_DOMAIN = "deleted.invalid"
DELETED_PASSWORD_HASH = "!deleted"  # no hash function produces this, so no password matches it


def pseudonym(participant_id: uuid.UUID) -> str:
    """The name a deleted account's public acts show: stable, and says nothing of the person."""
    return f"Former participant {participant_id.hex[:4]}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export(session: AsyncSession, participant: Participant) -> dict[str, Any]:
    """Everything CoGov keeps about the participant, as plain JSON: account, affiliations, memberships,
    applications, votes, comments and replies. No secret (password hash, TOTP secret, recovery codes)."""
    pid = participant.id
    affiliations = (
        await session.scalars(select(Affiliation).where(Affiliation.participant_id == pid).order_by(Affiliation.valid_from))
    ).all()
    memberships = (
        await session.execute(
            select(Membership, Network.slug, Network.name)
            .join(Network, Network.id == Membership.network_id)
            .where(Membership.participant_id == pid)
            .order_by(Membership.joined_at)
        )
    ).all()
    applications = (
        await session.execute(
            select(Application, Network.slug)
            .join(Network, Network.id == Application.network_id)
            .where(Application.participant_id == pid)
            .order_by(Application.created_at)
        )
    ).all()
    votes = (
        await session.execute(
            select(BallotVote, Ballot.norm_id, Norm.slug, Norm.title)
            .join(Ballot, Ballot.id == BallotVote.ballot_id)
            .join(Norm, Norm.id == Ballot.norm_id)
            .where(BallotVote.participant_id == pid)
            .order_by(BallotVote.cast_at)
        )
    ).all()
    comments = (
        await session.execute(
            select(ConsultationComment, Consultation.norm_id)
            .join(Consultation, Consultation.id == ConsultationComment.consultation_id)
            .where(ConsultationComment.author_id == pid)
            .order_by(ConsultationComment.created_at)
        )
    ).all()
    replies = (await session.scalars(select(CommentReply).where(CommentReply.author_id == pid).order_by(CommentReply.created_at))).all()
    return {
        "format": EXPORT_FORMAT,
        "account": {
            "id": str(pid),
            "email": participant.email,
            "display_name": participant.display_name,
            "role": participant.role.value,
            "created_at": _iso(participant.created_at),
            "two_factor": participant.two_factor,
            # Addresses proven besides the sign-in address (at one's organisation, to verify an affiliation).
            "proven_addresses": [
                {"email": proven.email, "proven_at": _iso(proven.proven_at)}
                for proven in await session.scalars(
                    select(ProvenAddress).where(ProvenAddress.participant_id == pid).order_by(ProvenAddress.proven_at)
                )
            ],
        },
        "affiliations": [
            {
                "stakeholder_group": row.stakeholder_group,
                "country": row.country,
                "region": row.region,
                "organisation": row.organisation,
                "valid_from": _iso(row.valid_from),
                "valid_to": _iso(row.valid_to),
            }
            for row in affiliations
        ],
        "memberships": [
            {"network": slug, "network_name": name, "role": membership.role.value, "joined_at": _iso(membership.joined_at)}
            for membership, slug, name in memberships
        ],
        "applications": [
            {
                "network": slug,
                "motivation": application.motivation,
                "status": application.status.value,
                "created_at": _iso(application.created_at),
                "decided_at": _iso(application.decided_at),
            }
            for application, slug in applications
        ],
        "votes": [
            {
                "ballot_id": str(vote.ballot_id),
                "norm_id": str(norm_id),
                "norm": norm_slug,
                "norm_title": title,
                "position": vote.position.value,
                "reason": vote.reason,
                "cast_at": _iso(vote.cast_at),
                "changed_at": _iso(vote.changed_at),
            }
            for vote, norm_id, norm_slug, title in votes
        ],
        "comments": [
            {
                "id": str(comment.id),
                "consultation_id": str(comment.consultation_id),
                "norm_id": str(norm_id),
                "body": comment.body,
                "quote": comment.anchor_quote,
                "status": comment.status.value,
                "created_at": _iso(comment.created_at),
            }
            for comment, norm_id in comments
        ],
        "replies": [
            {"id": str(reply.id), "comment_id": str(reply.comment_id), "body": reply.body, "created_at": _iso(reply.created_at)}
            for reply in replies
        ],
    }


async def delete_account(session: AsyncSession, taxonomy: Taxonomy, participant: Participant, now: datetime) -> str:
    """Delete the participant's account (the caller has checked their password); the pseudonym it now shows.

    The participant leaves every network first, as leaving does (audited, formation recomputed), so no
    roster counts a person who is gone; the last convener of a network with other members is refused
    (`LastConvener`, 409) until they appoint another, and nothing is changed. A network they are the only
    member of keeps them, as its convener, under the pseudonym.
    """
    joined = (
        await session.execute(
            select(Network.id, Network.slug)
            .join(Membership, Membership.network_id == Network.id)
            .where(Membership.participant_id == participant.id)
        )
    ).all()
    for network_id, slug in joined:
        members = await session.scalar(select(func.count()).select_from(Membership).where(Membership.network_id == network_id))
        if members == 1:
            continue  # a network always keeps a convener: its founder stays in it, under the pseudonym
        await networks.leave(session, taxonomy, participant.id, slug)
    name = pseudonym(participant.id)
    participant.email = f"{participant.id.hex}@{DELETED_DOMAIN}"
    participant.display_name = name
    participant.password_hash = DELETED_PASSWORD_HASH
    participant.role = Role.participant
    participant.totp_secret = participant.totp_enabled_at = participant.totp_last_step = None
    participant.token_version += 1
    participant.deleted_at = now
    await session.execute(delete(RecoveryCode).where(RecoveryCode.participant_id == participant.id))
    await session.execute(delete(ProvenAddress).where(ProvenAddress.participant_id == participant.id))
    await sessions.revoke_others(session, participant, keep=None)
    await session.flush()
    await audit.record(
        session,
        actor_id=participant.id,
        action="participant.deleted",
        target_type="participant",
        target_id=participant.id,
        payload={"display_name": name},
    )
    return name
