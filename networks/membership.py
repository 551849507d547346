"""Who belongs to a network, and as what, and who may take part at all: the one place every caller asks.

Routes, pages, the store's write check and the sync hub all ask here, so "member" and
"convener" mean the same everywhere and refuse with the same error and code. Taking part
(founding, joining, editing, voting, commenting, applying) needs a proven email address: until
then `EmailUnverified` (403 `email_unverified`), whatever the membership. Reading never asks here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from networks.errors import NotAMember, NotConvener
from networks.models import MemberRole, Membership, Network
from services.accounts.addresses import EmailUnverified, require_verified
from services.accounts.models import Participant
from services.kit.errors import DomainError


async def find_membership(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID) -> Membership | None:
    """The membership row, read afresh (callers that change it hold the network's lock)."""
    query = select(Membership).where(Membership.network_id == network_id, Membership.participant_id == participant_id)
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def member_role(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID | None) -> MemberRole | None:
    """The participant's role in the network; None for a non-member or nobody signed in."""
    if participant_id is None:
        return None
    return (
        await session.scalars(
            select(Membership.role).where(Membership.network_id == network_id, Membership.participant_id == participant_id)
        )
    ).first()


async def is_member(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID | None) -> bool:
    return await member_role(session, network_id, participant_id) is not None


async def is_convener(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID | None) -> bool:
    return await member_role(session, network_id, participant_id) is MemberRole.convener


async def _standing(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID) -> tuple[bool, MemberRole | None]:
    """(address proven?, role in the network) in one query."""
    query = (
        select(Participant.email_verified_at, Membership.role)
        .select_from(Participant)
        .outerjoin(Membership, (Membership.participant_id == Participant.id) & (Membership.network_id == network_id))
        .where(Participant.id == participant_id)
    )
    row = (await session.execute(query)).first()
    return (False, None) if row is None else (row[0] is not None, row[1])


async def require_participant(session: AsyncSession, participant_id: uuid.UUID) -> None:
    """`EmailUnverified` (403) unless the participant's address is proven: asked before any act that takes part."""
    require_verified(await session.scalar(select(Participant.email_verified_at).where(Participant.id == participant_id)))


async def require_member(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID, detail: str | None = None) -> MemberRole:
    """The role of a participant about to act in the network: `EmailUnverified` (403) until their address is
    proven, `NotAMember` (403) when they do not belong to the network."""
    verified, role = await _standing(session, network_id, participant_id)
    if not verified:
        raise EmailUnverified()
    if role is None:
        raise NotAMember(detail)
    return role


async def require_convener(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID, detail: str | None = None) -> None:
    """`EmailUnverified` (403) until the participant's address is proven, then `NotConvener` (403) unless they convene the network."""
    verified, role = await _standing(session, network_id, participant_id)
    if not verified:
        raise EmailUnverified()
    if role is not MemberRole.convener:
        raise NotConvener(detail)


async def refusal_to_edit(
    session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID | None, detail: str
) -> DomainError | None:
    """Why the participant may not write to the network's norms (unproven address, not a member); None if they may."""
    if participant_id is None:
        return NotAMember(detail)
    verified, role = await _standing(session, network_id, participant_id)
    if role is None:
        return NotAMember(detail)
    return None if verified else EmailUnverified()


async def memberships_of(session: AsyncSession, participant_ids: Iterable[uuid.UUID]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Every (participant, network) pair of membership among these participants."""
    query = select(Membership.participant_id, Membership.network_id).where(Membership.participant_id.in_(list(participant_ids)))
    return {(participant, network) for participant, network in (await session.execute(query)).all()}


async def networks_of(session: AsyncSession, participant_id: uuid.UUID) -> list[tuple[Network, MemberRole]]:
    """The networks a participant belongs to, by name, with their role in each."""
    rows = await session.execute(
        select(Network, Membership.role)
        .join(Membership, Membership.network_id == Network.id)
        .where(Membership.participant_id == participant_id)
        .order_by(Network.name)
    )
    return list(rows.tuples().all())
