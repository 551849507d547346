"""Who belongs to a network, and as what: the one place every caller asks.

Routes, pages, the store's write check and the sync hub all ask here, so "member" and
"convener" mean the same everywhere and refuse with the same error and code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from networks.errors import NotAMember, NotConvener
from networks.models import MemberRole, Membership, Network


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


async def require_member(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID, detail: str | None = None) -> MemberRole:
    """The participant's role; `NotAMember` (403) when they do not belong to the network."""
    role = await member_role(session, network_id, participant_id)
    if role is None:
        raise NotAMember(detail)
    return role


async def require_convener(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID, detail: str | None = None) -> None:
    """`NotConvener` (403) unless the participant convenes the network."""
    if await member_role(session, network_id, participant_id) is not MemberRole.convener:
        raise NotConvener(detail)


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
