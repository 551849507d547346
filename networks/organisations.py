"""Organisations as records: naming one, proposing one (near-duplicates shown first), its domains and their proof.

An organisation's identity is its record, not a spelling: "Anatel", "ANATEL" and "Anatel." share
one normalised name (`name_key`) and so one record, and a ballot weighs the record once.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

import dns.asyncresolver
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from networks import domains
from networks.errors import (
    DomainClaimed,
    DomainNotFound,
    NoteRequired,
    OrganisationDuplicate,
    OrganisationNearDuplicates,
    OrganisationNotFound,
)
from networks.models import (
    ORGANISATION_LENGTH,
    Affiliation,
    DomainMethod,
    DomainStatus,
    Organisation,
    OrganisationDomain,
    OrganisationStatus,
)
from services.audit import service as audit
from services.kit.db import hand_back, take_write_lock, utcnow

_NOT_WORD = re.compile(r"[^\w]+")
_SLUG_CHARACTERS = re.compile(r"[^a-z0-9]+")


def name_key(name: str) -> str:
    """The normalised name records are unique by: accents, case, punctuation and spacing ignored."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(character for character in decomposed if not unicodedata.combining(character))
    return " ".join(_NOT_WORD.sub(" ", bare.casefold()).split())[:ORGANISATION_LENGTH]


def _slug_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _SLUG_CHARACTERS.sub("-", ascii_name.lower()).strip("-")[:60].rstrip("-") or "organisation"


async def _free_slug(session: AsyncSession, name: str) -> str:
    base = _slug_base(name)
    taken = set((await session.scalars(select(Organisation.slug).where(Organisation.slug.startswith(base)))).all())
    return next(candidate for candidate in (base if n == 1 else f"{base}-{n}" for n in count(1)) if candidate not in taken)


async def get(session: AsyncSession, slug: str) -> Organisation:
    organisation = await session.scalar(select(Organisation).where(Organisation.slug == slug[:100]))
    if organisation is None:
        raise OrganisationNotFound(f"No organisation has the slug {slug[:80]!r}")
    return organisation


async def resolve(session: AsyncSession, actor_id: uuid.UUID, organisation_id: uuid.UUID | None, name: str | None) -> Organisation | None:
    """The record an affiliation names: by id, else by normalised name (a new name makes an unverified record)."""
    if organisation_id is not None:
        organisation = await session.get(Organisation, organisation_id)
        if organisation is None:
            raise OrganisationNotFound(f"No organisation has the id {organisation_id}")
        return organisation
    if not name or not name_key(name):
        return None
    key = name_key(name)
    existing: Organisation | None = await session.scalar(select(Organisation).where(Organisation.name_key == key))
    if existing is not None:
        return existing
    organisation = Organisation(slug=await _free_slug(session, name), name=" ".join(name.split()), name_key=key, created_by=actor_id)
    session.add(organisation)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        action="organisation.named",
        target_type="organisation",
        target_id=organisation.slug,
        payload={"name": organisation.name},
    )
    return organisation


@dataclass(frozen=True)
class Similar:
    organisation: Organisation
    reason: str


async def near_duplicates(session: AsyncSession, name: str, claimed: Sequence[str] = ()) -> list[Similar]:
    """Records a proposal may duplicate: the same normalised name, a shared domain, or one name's words inside the other's."""
    key = name_key(name)
    found: dict[uuid.UUID, Similar] = {}
    if key:
        for organisation in (await session.scalars(select(Organisation).where(Organisation.name_key == key))).all():
            found[organisation.id] = Similar(organisation, "the same name")
    if claimed:
        rows = await session.execute(
            select(Organisation, OrganisationDomain.domain)
            .join(OrganisationDomain, OrganisationDomain.organisation_id == Organisation.id)
            .where(OrganisationDomain.domain.in_(list(claimed)))
        )
        for organisation, domain in rows.tuples().all():
            found.setdefault(organisation.id, Similar(organisation, f"the domain {domains.display(domain)}"))
    words = key.split()
    if words:
        # Names containing this one's longest word ("anatel" finds "anatel brazil"), checked word by word below.
        longest = max(words, key=len)
        candidates = await session.scalars(select(Organisation).where(Organisation.name_key.contains(longest)).limit(50))
        mine = set(words)
        for organisation in candidates.all():
            theirs = set(organisation.name_key.split())
            if organisation.id not in found and (mine <= theirs or theirs <= mine):
                found[organisation.id] = Similar(organisation, "a similar name")
    return list(found.values())


async def propose(
    session: AsyncSession,
    refused: frozenset[str],
    actor_id: uuid.UUID,
    *,
    name: str,
    stakeholder_group: str,
    country: str,
    website: str | None,
    claimed: Sequence[str],
    distinct: bool,
) -> Organisation:
    """Create an organisation record (the caller checks the proposer is verified).

    The same normalised name or a claimed domain already held: `OrganisationDuplicate` (409). A similar
    name: `OrganisationNearDuplicates` (409) unless `distinct`. Domains start pending until proven.
    """
    parsed = list(dict.fromkeys(domains.parse_domain(raw, refused) for raw in claimed))
    similar = await near_duplicates(session, name, parsed)
    exact = [item for item in similar if item.reason != "a similar name"]
    if exact:
        raise OrganisationDuplicate(
            "Already recorded: " + "; ".join(f"{item.organisation.name} ({item.reason})" for item in exact),
            organisations=[{"slug": item.organisation.slug, "name": item.organisation.name, "reason": item.reason} for item in exact],
        )
    if similar and not distinct:
        raise OrganisationNearDuplicates(
            "Similar organisations exist: "
            + "; ".join(item.organisation.name for item in similar)
            + ". Use one of them, or send distinct: true if yours is another organisation",
            organisations=[{"slug": item.organisation.slug, "name": item.organisation.name, "reason": item.reason} for item in similar],
        )
    organisation = Organisation(
        slug=await _free_slug(session, name),
        name=" ".join(name.split()),
        name_key=name_key(name),
        stakeholder_group=stakeholder_group,
        country=country,
        website=website,
        created_by=actor_id,
    )
    session.add(organisation)
    await session.flush()
    for domain in parsed:
        session.add(OrganisationDomain(organisation_id=organisation.id, domain=domain, token=secrets.token_urlsafe(24), added_by=actor_id))
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        action="organisation.proposed",
        target_type="organisation",
        target_id=organisation.slug,
        payload={"name": organisation.name, "stakeholder_group": stakeholder_group, "country": country, "domains": parsed},
    )
    return organisation


async def domains_of(session: AsyncSession, organisation_id: uuid.UUID) -> Sequence[OrganisationDomain]:
    return (
        await session.scalars(
            select(OrganisationDomain).where(OrganisationDomain.organisation_id == organisation_id).order_by(OrganisationDomain.domain)
        )
    ).all()


async def claim_domain(session: AsyncSession, refused: frozenset[str], actor_id: uuid.UUID, slug: str, raw: str) -> OrganisationDomain:
    """Add a pending domain to the organisation, with the token to publish; 409 if another organisation holds it."""
    organisation = await get(session, slug)
    domain = domains.parse_domain(raw, refused)
    held = await session.scalar(select(OrganisationDomain).where(OrganisationDomain.domain == domain))
    if held is not None:
        if held.organisation_id == organisation.id:
            return held
        owner = await session.get(Organisation, held.organisation_id)
        raise DomainClaimed(f"{domains.display(domain)} belongs to {owner.name if owner else 'another organisation'} already")
    claim = OrganisationDomain(organisation_id=organisation.id, domain=domain, token=secrets.token_urlsafe(24), added_by=actor_id)
    session.add(claim)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        action="organisation.domain_claimed",
        target_type="organisation",
        target_id=slug,
        payload={"domain": domain},
    )
    return claim


async def _claim(session: AsyncSession, slug: str, raw: str, *, fresh: bool = False) -> tuple[Organisation, OrganisationDomain]:
    """The organisation and its claim on the domain; `fresh` reads both again rather than as this session last saw them."""
    organisation = await get(session, slug)
    try:
        domain = domains.parse_domain(raw, frozenset())
    except domains.DomainInvalid as exc:
        raise DomainNotFound(f"{slug} has no domain {raw[:80]!r}") from exc
    query = select(OrganisationDomain).where(OrganisationDomain.organisation_id == organisation.id, OrganisationDomain.domain == domain)
    if fresh:  # and locked until the commit (PostgreSQL; SQLite's writer holds the database's lock)
        query = query.with_for_update().execution_options(populate_existing=True)
    claim = await session.scalar(query)
    if claim is None:
        raise DomainNotFound(f"{organisation.name} has not claimed {domains.display(domain)}")
    if fresh:
        await session.refresh(organisation)
    return organisation, claim


async def check_domain(
    session: AsyncSession, resolver: dns.asyncresolver.Resolver, actor_id: uuid.UUID | None, slug: str, raw: str
) -> OrganisationDomain:
    """Look for the domain's TXT token now; verify it when found. A failure to ask leaves it as it was, saying so.

    DNS is asked with no transaction open: the claim is read, that unit of work ends (committed: it wrote nothing),
    and only the outcome is written, in a short transaction that reads the claim again (it may have been verified,
    or its token changed, meanwhile). A slow or silent DNS server never holds a lock, nor SQLite's write lock.
    """
    _organisation, claim = await _claim(session, slug, raw)
    domain, token = claim.domain, claim.token
    await hand_back(session)
    result = await domains.check(resolver, domain, token)

    await take_write_lock(session)
    organisation, claim = await _claim(session, slug, raw, fresh=True)
    if claim.token != token:
        return claim  # claimed anew meanwhile: this answer was for the old token
    claim.checked_at = utcnow()
    claim.check_result = result.message[:300]
    if result.outcome is domains.CheckOutcome.verified and claim.status is not DomainStatus.verified:
        claim.status, claim.method, claim.verified_at = DomainStatus.verified, DomainMethod.dns, claim.checked_at
        organisation.status = OrganisationStatus.verified
        await audit.record(
            session,
            actor_id=actor_id,
            action="organisation.domain_verified",
            target_type="organisation",
            target_id=slug,
            payload={"domain": claim.domain, "method": "dns"},
        )
    await session.flush()
    return claim


async def confirm_domain(session: AsyncSession, registrar_id: uuid.UUID, slug: str, raw: str, note: str) -> OrganisationDomain:
    """A registrar confirms a claimed domain by hand, with a public note."""
    if not note.strip():
        raise NoteRequired()
    organisation, claim = await _claim(session, slug, raw)
    claim.status, claim.method, claim.verified_at, claim.verified_by, claim.note = (
        DomainStatus.verified,
        DomainMethod.registrar,
        utcnow(),
        registrar_id,
        note.strip(),
    )
    organisation.status = OrganisationStatus.verified
    await session.flush()
    await audit.record(
        session,
        actor_id=registrar_id,
        action="organisation.domain_verified",
        target_type="organisation",
        target_id=slug,
        payload={"domain": claim.domain, "method": "registrar", "note": note.strip()},
    )
    return claim


async def confirm(session: AsyncSession, registrar_id: uuid.UUID, slug: str, note: str) -> Organisation:
    """A registrar confirms the organisation itself by hand (it exists, in this group and country), with a public note."""
    if not note.strip():
        raise NoteRequired()
    organisation = await get(session, slug)
    organisation.status = OrganisationStatus.verified
    organisation.confirmed_by, organisation.confirmed_note, organisation.confirmed_at = registrar_id, note.strip(), utcnow()
    await session.flush()
    await audit.record(
        session,
        actor_id=registrar_id,
        action="organisation.confirmed",
        target_type="organisation",
        target_id=slug,
        payload={"note": note.strip()},
    )
    return organisation


async def directory(session: AsyncSession, query: str | None, limit: int = 100) -> list[tuple[Organisation, int]]:
    """Organisations by name (filtered by words of the name when asked), each with its current member count."""
    members = (
        select(Affiliation.organisation_id, func.count().label("n"))
        .where(Affiliation.valid_to.is_(None))
        .group_by(Affiliation.organisation_id)
        .subquery()
    )
    statement = select(Organisation, func.coalesce(members.c.n, 0)).outerjoin(members, members.c.organisation_id == Organisation.id)
    if query and name_key(query):
        statement = statement.where(or_(*[Organisation.name_key.contains(word) for word in name_key(query).split()[:5]]))
    rows = await session.execute(statement.order_by(Organisation.name_key).limit(limit))
    return [(organisation, int(n)) for organisation, n in rows.tuples().all()]
