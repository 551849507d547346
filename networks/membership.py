"""Who belongs to a network, and as what, and who may take part at all: the one place every caller asks.

Routes, pages, the store's write check and the sync hub all ask here, so "member" and
"convener" mean the same everywhere and refuse with the same error and code.

The clearing house never takes part: a staff or admin account founds, joins, applies to, edits,
votes in and comments on nothing (`StaffCannotTakePart`), and a membership it may hold from
before its role counts for nothing here.

Taking part (founding, joining, applying, editing, voting, commenting) also needs a proven email
address: until then `EmailUnverified` (403 `email_unverified`). Reading never asks here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import NoReturn

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from networks.errors import NotAMember, NotConvener, StaffCannotTakePart
from networks.models import MemberRole, Membership, Network
from services.accounts.addresses import EmailUnverified, require_verified
from services.accounts.models import Participant, Role
from services.kit.errors import DomainError

# Accounts of the clearing house: they publish and curate, and never take part in a network.
CLEARING_HOUSE_ROLES = frozenset({Role.staff, Role.admin})


async def require_may_take_part(session: AsyncSession, participant_id: uuid.UUID, act: str) -> None:
    """`StaffCannotTakePart` (403) when the participant is clearing-house staff or an administrator."""
    role = await session.scalar(select(Participant.role).where(Participant.id == participant_id))
    if role in CLEARING_HOUSE_ROLES:
        raise StaffCannotTakePart(act)


def _taking_part() -> ColumnElement[bool]:
    # A membership counts only while its holder's account may take part.
    return Membership.participant_id.in_(select(Participant.id).where(Participant.role.not_in(CLEARING_HOUSE_ROLES)))


async def find_membership(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID) -> Membership | None:
    """The membership row, read afresh (callers that change it hold the network's lock)."""
    query = select(Membership).where(Membership.network_id == network_id, Membership.participant_id == participant_id)
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def member_role(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID | None) -> MemberRole | None:
    """The participant's role in the network; None for a non-member, for staff and for nobody signed in."""
    if participant_id is None:
        return None
    return (
        await session.scalars(
            select(Membership.role).where(Membership.network_id == network_id, Membership.participant_id == participant_id, _taking_part())
        )
    ).first()


async def is_member(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID | None) -> bool:
    return await member_role(session, network_id, participant_id) is not None


async def is_convener(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID | None) -> bool:
    return await member_role(session, network_id, participant_id) is MemberRole.convener


async def member_ids(session: AsyncSession, network_id: uuid.UUID) -> list[uuid.UUID]:
    """The network's members who take part, in the order they joined."""
    query = select(Membership.participant_id).where(Membership.network_id == network_id, _taking_part())
    return list(await session.scalars(query.order_by(Membership.joined_at, Membership.participant_id)))


async def _standing(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID) -> tuple[bool, bool, MemberRole | None]:
    """(address proven?, clearing-house account?, role in the network that counts) in one query."""
    query = (
        select(Participant.email_verified_at, Participant.role, Membership.role)
        .select_from(Participant)
        .outerjoin(Membership, (Membership.participant_id == Participant.id) & (Membership.network_id == network_id))
        .where(Participant.id == participant_id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return False, False, None
    staff = row[1] in CLEARING_HOUSE_ROLES
    return row[0] is not None, staff, None if staff else row[2]


async def require_participant(session: AsyncSession, participant_id: uuid.UUID) -> None:
    """`EmailUnverified` (403) unless the participant's address is proven: asked before any act that takes part."""
    require_verified(await session.scalar(select(Participant.email_verified_at).where(Participant.id == participant_id)))


async def require_member(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID, detail: str | None = None) -> MemberRole:
    """The role of a participant about to act in the network: `StaffCannotTakePart` for staff, `NotAMember` (403)
    when they do not belong to the network, `EmailUnverified` (403) until their address is proven."""
    verified, _staff, role = await _standing(session, network_id, participant_id)
    if role is None:
        await refuse_non_member(session, participant_id, detail)
    if not verified:
        raise EmailUnverified()
    return role


async def refuse_non_member(
    session: AsyncSession, participant_id: uuid.UUID, detail: str | None = None, act: str = "act in a network"
) -> NoReturn:
    """Raise why a participant is not a member: `StaffCannotTakePart` for staff, else `NotAMember`."""
    await require_may_take_part(session, participant_id, act)
    raise NotAMember(detail)


async def require_convener(session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID, detail: str | None = None) -> None:
    """`NotConvener` (403) unless the participant convenes the network (`StaffCannotTakePart` for staff), then
    `EmailUnverified` (403) until their address is proven."""
    verified, _staff, role = await _standing(session, network_id, participant_id)
    if role is not MemberRole.convener:
        await require_may_take_part(session, participant_id, "act as a convener")
        raise NotConvener(detail)
    if not verified:
        raise EmailUnverified()


async def refusal_to_edit(
    session: AsyncSession, network_id: uuid.UUID, participant_id: uuid.UUID | None, detail: str
) -> DomainError | None:
    """Why the participant may not write to the network's norms (staff, not a member, unproven address); None if they may."""
    if participant_id is None:
        return NotAMember(detail)
    verified, staff, role = await _standing(session, network_id, participant_id)
    if staff:
        return StaffCannotTakePart("edit a norm")
    if role is None:
        return NotAMember(detail)
    return None if verified else EmailUnverified()


async def memberships_of(session: AsyncSession, participant_ids: Iterable[uuid.UUID]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Every (participant, network) pair of membership among these participants."""
    query = select(Membership.participant_id, Membership.network_id).where(
        Membership.participant_id.in_(list(participant_ids)), _taking_part()
    )
    return {(participant, network) for participant, network in (await session.execute(query)).all()}


async def networks_of(session: AsyncSession, participant_id: uuid.UUID) -> list[tuple[Network, MemberRole]]:
    """The networks a participant belongs to, by name, with their role in each."""
    rows = await session.execute(
        select(Network, Membership.role)
        .join(Membership, Membership.network_id == Network.id)
        .where(Membership.participant_id == participant_id, _taking_part())
        .order_by(Network.name)
    )
    return list(rows.tuples().all())
