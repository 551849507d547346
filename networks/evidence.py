"""Reads what the verification rule needs from the database and asks `networks.verification` who is verified.

Every page, formation check and ballot asks here, so "verified" means one thing everywhere.
Only the participants a question is about are loaded, with everyone whose vouches could reach them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Row,
    Select,
    Table,
    TypeDecorator,
    Uuid,
    and_,
    bindparam,
    delete,
    event,
    func,
    inspect,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_session
from sqlalchemy.orm import InstrumentedAttribute, Session, SessionTransaction
from sqlalchemy.util import await_only

from networks import domains
from networks import verification as rule
from networks.models import (
    Affiliation,
    DomainStatus,
    OrganisationDomain,
    RegistrarDecision,
    RegistrarDecisionKind,
    VerificationRun,
    VerificationState,
    Vouch,
)
from networks.verification import Candidate, Evidence, Method, describe, verify
from services.accounts.models import Participant, ProvenAddress
from services.kit.db import Base, utcnow

DEFAULT_VOUCHES_NEEDED = 2
# Past this many participants in question, reading every current affiliation and filtering here is cheaper
# than sending their ids as parameters (SQLite and asyncpg bind each one).
IN_LIST_LIMIT = 500


@dataclass(frozen=True)
class Verdicts:
    """Who among the asked participants is verified, and how; `names` resolves vouchers and registrars."""

    evidence: dict[uuid.UUID, Evidence]
    names: dict[uuid.UUID, str]

    def of(self, participant_id: uuid.UUID) -> Evidence | None:
        return self.evidence.get(participant_id)

    def words(self, participant_id: uuid.UUID) -> str:
        return describe(self.evidence.get(participant_id), self.names)  # type: ignore[arg-type]

    def badge(self, participant_id: uuid.UUID) -> dict[str, object]:
        """The public badge: method (None when unverified), words, and who vouched or confirmed."""
        evidence = self.evidence.get(participant_id)
        return {
            "verified": evidence is not None,
            "method": evidence.method.value if evidence else None,
            "domain": domains.display(evidence.domain) if evidence and evidence.domain else None,
            "by": [{"id": str(who), "name": self.names.get(who, "")} for who in evidence.by] if evidence else [],  # type: ignore[call-overload]
            "note": evidence.note if evidence else None,
            "words": self.words(participant_id),
        }


def _current() -> ColumnElement[bool]:
    return Affiliation.valid_to.is_(None)


# Ids are read in the database driver's own form and turned into `uuid.UUID`s only for the answer: where the
# driver has no UUID type (SQLite stores hex text), SQLAlchemy would parse every id of the vouch graph and of
# every current affiliation (~35,000 at 5,000 members), and the rule would hash them in Python.
_ID = Uuid()


def _raw(
    column: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID] | InstrumentedAttribute[uuid.UUID | None],
) -> ColumnElement[object]:
    """The column as the driver returns it, without SQLAlchemy's per-row conversion to `uuid.UUID`."""
    return type_coerce(column, _Raw())


raw_id = _raw


class _Raw(TypeDecorator[object]):
    impl = Uuid
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


@dataclass(frozen=True)
class _Ids:
    """To and from the driver's form of an id (identity where the driver returns `uuid.UUID`s itself)."""

    to_raw: Callable[[uuid.UUID], Hashable]
    from_raw: Callable[[Any], uuid.UUID]

    @classmethod
    def of(cls, dialect: Dialect) -> _Ids:
        to_raw = _ID.bind_processor(dialect)
        from_raw = _ID.result_processor(dialect, None)  # type: ignore[no-untyped-call]
        return cls(to_raw or _same, from_raw or _same)


def from_driver(session: AsyncSession) -> Callable[[Any], uuid.UUID]:
    """Turns an id read with `raw_id` into a `uuid.UUID`."""
    return _Ids.of(session.bind.dialect).from_raw


def _same(value: Any) -> Any:
    return value


async def _standing_vouches(session: AsyncSession) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """(voucher, candidate participant, affiliation) of every standing vouch for a current affiliation."""
    ids = _Ids.of(session.bind.dialect)
    return [(ids.from_raw(v), ids.from_raw(c), ids.from_raw(a)) for v, c, a in await _raw_vouches(session)]


async def _rows(session: AsyncSession, query: Select[Any]) -> Sequence[Row[Any]]:
    """The rows of a column query, read through the session's connection: the ORM's result machinery costs more
    than the reading at this size. Pending changes are flushed first, as the session's own `execute` would."""
    if session.sync_session.autoflush:
        await session.flush()
    return (await (await session.connection()).execute(query)).all()


async def _raw_vouches(session: AsyncSession) -> list[tuple[Any, Any, Any]]:
    """`_standing_vouches` in the driver's form of ids, oldest first."""
    query = (
        select(_raw(Vouch.voucher_id), _raw(Affiliation.participant_id), _raw(Vouch.affiliation_id))
        .join(Affiliation, and_(Affiliation.id == Vouch.affiliation_id, Affiliation.valid_to.is_(None)))
        .where(Vouch.withdrawn_at.is_(None))
        .order_by(Vouch.created_at, Vouch.id)
    )
    return [(row[0], row[1], row[2]) for row in await _rows(session, query)]


def _ancestors(targets: Iterable[Hashable], edges: list[tuple[Any, Any, Any]]) -> set[Hashable]:
    """The targets and everyone whose vouches could reach them through a chain."""
    vouchers_of: dict[Hashable, list[Hashable]] = defaultdict(list)
    for voucher, candidate, _affiliation in edges:
        vouchers_of[candidate].append(voucher)
    seen = set(targets)
    stack = list(seen)
    while stack:
        for voucher in vouchers_of.get(stack.pop(), ()):
            if voucher not in seen:
                seen.add(voucher)
                stack.append(voucher)
    return seen


def descendants(sources: Iterable[uuid.UUID], edges: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]) -> set[uuid.UUID]:
    """The sources and everyone their vouches could reach: whose verification a change to the sources may change."""
    vouched_by: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for voucher, candidate, _affiliation in edges:
        vouched_by[voucher].append(candidate)
    seen = set(sources)
    stack = list(seen)
    while stack:
        for candidate in vouched_by.get(stack.pop(), ()):
            if candidate not in seen:
                seen.add(candidate)
                stack.append(candidate)
    return seen


async def downstream(session: AsyncSession, participant_id: uuid.UUID) -> set[uuid.UUID]:
    """The participant and everyone whose verification may rest on theirs."""
    return descendants([participant_id], await _standing_vouches(session))


async def verdicts(
    session: AsyncSession, participant_ids: Collection[uuid.UUID] | None, needed: int = DEFAULT_VOUCHES_NEEDED, *, named: bool = True
) -> Verdicts:
    """The verification of these participants' current affiliations (None: of everyone).

    Read from the stored states when they are complete for this number of vouches needed and this unit of work
    has changed no evidence since its last settling (`settle`); computed from the evidence otherwise.
    `named` False leaves out the names of vouchers and registrars, for a question that only counts who is verified.
    """
    if not _unsettled(session.sync_session):
        stored = await _stored(session, participant_ids, needed)
        if stored is not None:
            names = await names_of(session, {who for item in stored.values() for who in item.by}) if named else {}  # type: ignore[misc]
            return Verdicts(stored, names)
    return await computed(session, participant_ids, needed, named=named)


async def computed(
    session: AsyncSession, participant_ids: Collection[uuid.UUID] | None, needed: int = DEFAULT_VOUCHES_NEEDED, *, named: bool = True
) -> Verdicts:
    """The verification of these participants' current affiliations, computed from the evidence by the rule."""
    ids = _Ids.of(session.bind.dialect)
    asked = None if participant_ids is None else {ids.to_raw(participant): participant for participant in participant_ids}
    edges = await _raw_vouches(session)
    scope = None if asked is None else _ancestors(asked, edges)
    if scope is not None and not scope:
        return Verdicts({}, {})
    narrow = scope is not None and len(scope) <= IN_LIST_LIMIT
    in_scope = [ids.from_raw(participant) for participant in scope] if narrow and scope is not None else None

    # Each current affiliation in question, with its member's address when proven: one row per person.
    candidates_query = (
        select(
            _raw(Affiliation.participant_id),
            _raw(Affiliation.id),
            Affiliation.stakeholder_group,
            _raw(Affiliation.organisation_id),
            Participant.email,
        )
        .join(Participant, Participant.id == Affiliation.participant_id)
        .where(_current())
    )
    if in_scope is not None:
        candidates_query = candidates_query.where(Affiliation.participant_id.in_(in_scope))
    candidates: list[Candidate] = []
    addresses: list[tuple[Hashable, Hashable, str]] = []
    verified_at = Participant.email_verified_at.is_not(None).label("proven")
    for participant, affiliation, group, organisation, email, proven in await _rows(session, candidates_query.add_columns(verified_at)):
        if scope is not None and participant not in scope:
            continue
        candidates.append(Candidate(participant, affiliation, group, organisation))
        if proven and organisation is not None:
            addresses.append((participant, organisation, email))
    roots: dict[Hashable, Evidence] = {}

    # Second addresses proven by a mailed link count as the sign-in address does.
    with_organisation = {candidate.participant for candidate in candidates if candidate.organisation is not None}
    if with_organisation:
        seconds_query = (
            select(_raw(ProvenAddress.participant_id), _raw(Affiliation.organisation_id), ProvenAddress.email)
            .join(Affiliation, and_(Affiliation.participant_id == ProvenAddress.participant_id, _current()))
            .where(Affiliation.organisation_id.is_not(None))
        )
        if in_scope is not None:
            seconds_query = seconds_query.where(ProvenAddress.participant_id.in_(in_scope))
        for participant, organisation, email in await _rows(session, seconds_query):
            if participant in with_organisation:
                addresses.append((participant, organisation, email))

    # By address: a proven address at (a subdomain of) one of the organisation's verified domains.
    if addresses:
        domains_query = (
            select(_raw(OrganisationDomain.organisation_id), OrganisationDomain.domain)
            .where(OrganisationDomain.status == DomainStatus.verified)
            .order_by(OrganisationDomain.domain)
        )
        proven_domains: dict[Hashable, list[str]] = defaultdict(list)
        for organisation, domain in await _rows(session, domains_query):
            proven_domains[organisation].append(domain)
        for participant, organisation, email in addresses:
            for domain in proven_domains.get(organisation, ()):
                if domains.covers(domain, email):
                    roots[participant] = Evidence(Method.domain, domain=domain)
                    break

    # By a registrar: the newest decision on the current affiliation stands (a revocation bars every kind).
    revoked: set[Hashable] = set()
    if candidates:
        newest = (
            select(RegistrarDecision.affiliation_id, func.max(RegistrarDecision.created_at).label("at"))
            .group_by(RegistrarDecision.affiliation_id)
            .subquery()
        )
        decisions_query = (
            select(_raw(Affiliation.participant_id), RegistrarDecision.decision, RegistrarDecision.registrar_id, RegistrarDecision.note)
            .join(newest, and_(newest.c.affiliation_id == RegistrarDecision.affiliation_id, newest.c.at == RegistrarDecision.created_at))
            .join(Affiliation, and_(Affiliation.id == RegistrarDecision.affiliation_id, _current()))
        )
        if in_scope is not None:
            decisions_query = decisions_query.where(Affiliation.participant_id.in_(in_scope))
        for participant, decision, registrar, note in await _rows(session, decisions_query):
            if scope is not None and participant not in scope:
                continue
            if decision is RegistrarDecisionKind.revoked:
                revoked.add(participant)
            elif participant not in roots:
                roots[participant] = Evidence(Method.registrar, by=(registrar,), note=note)

    found = verify(candidates, roots, (rule.Vouch(voucher, affiliation) for voucher, _c, affiliation in edges), needed, revoked)

    # The answer in `uuid.UUID`s: the asked participants as the caller gave them, vouchers converted once each.
    converted: dict[Hashable, uuid.UUID] = {}

    def as_uuid(raw: Hashable) -> uuid.UUID:
        if isinstance(raw, uuid.UUID):
            return raw
        if raw not in converted:
            converted[raw] = ids.from_raw(raw)
        return converted[raw]

    wanted: dict[uuid.UUID, Evidence] = {}
    for participant, item in found.items():
        if asked is None:
            key = as_uuid(participant)
        elif participant in asked:
            key = asked[participant]
        else:
            continue
        if item.method is Method.vouching:
            item = Evidence(item.method, item.domain, tuple(as_uuid(who) for who in item.by), item.note)
        wanted[key] = item
    names: dict[uuid.UUID, str] = {}
    if named:
        names = await names_of(session, {who for item in wanted.values() for who in item.by})  # type: ignore[misc]
    return Verdicts(wanted, names)


async def names_of(session: AsyncSession, people: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names of these vouchers and registrars (past `IN_LIST_LIMIT`, of every standing voucher and the rest)."""
    names: dict[uuid.UUID, str] = {}
    if len(people) > IN_LIST_LIMIT:
        vouchers = select(Vouch.voucher_id).where(Vouch.withdrawn_at.is_(None)).distinct().subquery()
        query = select(Participant.id, Participant.display_name).join(vouchers, vouchers.c.voucher_id == Participant.id)
        rows = await session.execute(query)
        names = {participant: name for participant, name in rows.all() if participant in people}
    rest = people - names.keys()
    for start in range(0, len(rest), IN_LIST_LIMIT):
        chunk = list(rest)[start : start + IN_LIST_LIMIT]
        rows = await session.execute(select(Participant.id, Participant.display_name).where(Participant.id.in_(chunk)))
        names.update({participant: name for participant, name in rows.all()})
    return names


# --- Stored verification ---------------------------------------------------------------------------------------
# Each participant's verification is stored (`verification_states`) and recomputed, in the unit of work that
# changes its evidence, for everyone whose verification the change may touch: an ORM listener notes what changed
# (vouches, registrar decisions, affiliations, organisation domains, addresses: the sign-in one and second ones
# proven by a mailed link, whose bulk deletes come with a change of the sign-in address); `settle` recomputes just before
# the commit. Until then the unit of work itself reads verification computed from the evidence. Each state keeps its
# words with the names of its vouchers or registrar, so a rename of one of them rewrites the words that name them.

_SEEDS = "networks.evidence.seeds"
_RUN_ID = 1


@dataclass
class _Seeds:
    """What changed in this unit of work, by what it names."""

    participants: set[uuid.UUID]
    affiliations: set[uuid.UUID]
    organisations: set[uuid.UUID]
    renamed: set[uuid.UUID]  # whose name changed: the stored words naming them as voucher or registrar

    def __bool__(self) -> bool:
        return bool(self.participants or self.affiliations or self.organisations or self.renamed)


def _seeds(session: Session) -> _Seeds:
    seeds: _Seeds | None = session.info.get(_SEEDS)
    if seeds is None:
        seeds = session.info[_SEEDS] = _Seeds(set(), set(), set(), set())
    return seeds


def _address_changed(obj: Participant) -> bool:
    state = inspect(obj)
    return state.attrs.email.history.has_changes() or state.attrs.email_verified_at.history.has_changes()


def _renamed(obj: Participant) -> bool:
    return inspect(obj).attrs.display_name.history.has_changes()


def _evidence_changed(obj: object, new: bool) -> bool:
    """Whether this change may change a stored verification (or, for a rename, its words)."""
    if isinstance(obj, Participant):
        return not new and (_address_changed(obj) or _renamed(obj))
    return isinstance(obj, Vouch | RegistrarDecision | Affiliation | OrganisationDomain | ProvenAddress)


def _note(session: Session, obj: object) -> None:
    seeds = _seeds(session)
    if isinstance(obj, Vouch | RegistrarDecision):
        seeds.affiliations.add(obj.affiliation_id)
    elif isinstance(obj, Affiliation | ProvenAddress):
        seeds.participants.add(obj.participant_id)
    elif isinstance(obj, OrganisationDomain):
        seeds.organisations.add(obj.organisation_id)
    elif isinstance(obj, Participant):
        if _address_changed(obj):
            seeds.participants.add(obj.id)
        if _renamed(obj):
            seeds.renamed.add(obj.id)


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: object) -> None:
    for obj in session.new:
        if _evidence_changed(obj, True):
            _note(session, obj)
    for obj in list(session.dirty) + list(session.deleted):
        if _evidence_changed(obj, False) and (obj in session.deleted or session.is_modified(obj)):
            _note(session, obj)


def _unsettled(session: Session) -> bool:
    """Whether this unit of work has changed evidence (flushed or not) that the stored states do not show yet."""
    if session.info.get(_SEEDS):
        return True
    pending = [(obj, True) for obj in session.new] + [(obj, False) for obj in list(session.dirty) + list(session.deleted)]
    return any(_evidence_changed(obj, new) and (new or obj in session.deleted or session.is_modified(obj)) for obj, new in pending)


@event.listens_for(Session, "before_commit")
def _settle_before_commit(session: Session) -> None:
    """Store the recomputed verification with the change that caused it (outermost commits of async sessions)."""
    if session.in_nested_transaction() or not _unsettled(session):
        return
    proxy = async_session(session)
    if proxy is not None:
        await_only(settle(proxy))


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_SEEDS, None)


async def settle(session: AsyncSession) -> None:
    """Recompute and store the verification of everyone this unit of work's changes may touch (under a lock on
    PostgreSQL, so concurrent changes settle one after the other, each seeing the other's)."""
    while True:
        await session.flush()
        seeds: _Seeds | None = session.info.pop(_SEEDS, None)
        if not seeds:
            return
        run = (await session.execute(select(VerificationRun.needed).where(VerificationRun.id == _RUN_ID).with_for_update())).scalar()
        if run is None:
            return  # nothing stored yet: the first check builds it all
        people = set(seeds.participants)
        for start in range(0, len(seeds.affiliations), IN_LIST_LIMIT):
            chunk = list(seeds.affiliations)[start : start + IN_LIST_LIMIT]
            people.update((await session.scalars(select(Affiliation.participant_id).where(Affiliation.id.in_(chunk)))).all())
        if seeds.organisations:
            members = select(Affiliation.participant_id).where(_current(), Affiliation.organisation_id.in_(seeds.organisations))
            people.update((await session.scalars(members)).all())
        affected = descendants(people, await _standing_vouches(session)) if people else set()
        if affected:
            await _store(session, affected, await computed(session, affected, run))
        if seeds.renamed:
            await _rename(session, seeds.renamed)


async def _rename(session: AsyncSession, renamed: set[uuid.UUID]) -> None:
    """Rewrite the stored words that name these (renamed) participants as voucher or registrar."""
    table = _table(VerificationState)
    people = list(renamed)
    read, found = StateReader(), dict[uuid.UUID, Evidence]()
    for start in range(0, len(people), IN_LIST_LIMIT):
        naming = [VerificationState.by.contains(str(who), autoescape=True) for who in people[start : start + IN_LIST_LIMIT]]
        query = select(VerificationState.participant_id, *state_columns())
        for participant, *state in (await session.execute(query.where(or_(*naming)))).all():
            item = read(*state)
            if item is not None:
                found[participant] = item
    if not found:
        return
    names = await names_of(session, {who for item in found.values() for who in item.by})  # type: ignore[misc]
    update_words = update(table).where(table.c.participant_id == bindparam("state")).values(words=bindparam("described"))
    described = [{"state": who, "described": describe(item, names)} for who, item in found.items()]  # type: ignore[arg-type]
    await session.execute(update_words, described)


async def _store(session: AsyncSession, affected: Collection[uuid.UUID] | None, found: Verdicts) -> None:
    """Replace the stored verification of the affected participants (None: of everyone) with `found`, in words
    with its names."""
    table = _table(VerificationState)
    if affected is None:
        await session.execute(delete(table))
    else:
        everyone = list(affected)
        for start in range(0, len(everyone), IN_LIST_LIMIT):
            await session.execute(delete(table).where(table.c.participant_id.in_(everyone[start : start + IN_LIST_LIMIT])))
    now = utcnow()
    rows = [
        {
            "participant_id": participant,
            "method": item.method.value,
            "domain": item.domain,
            "by": " ".join(str(who) for who in item.by),
            "note": item.note,
            "words": describe(item, found.names),  # type: ignore[arg-type]
            "computed_at": now,
        }
        for participant, item in found.evidence.items()
    ]
    if rows:
        await session.execute(table.insert(), rows)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


async def build(session: AsyncSession, needed: int) -> dict[uuid.UUID, Evidence]:
    """Compute everyone's verification and store it all, as complete for `needed` vouches."""
    found = await computed(session, None, needed)
    runs = _table(VerificationRun)
    await session.execute(delete(runs))
    await session.execute(runs.insert(), [{"id": _RUN_ID, "needed": needed, "computed_at": utcnow()}])
    await _store(session, None, found)
    return found.evidence


async def _stored(session: AsyncSession, participant_ids: Collection[uuid.UUID] | None, needed: int) -> dict[uuid.UUID, Evidence] | None:
    """The stored verification of these participants, or None when the stored states cannot answer for `needed`."""
    run = (await session.execute(select(VerificationRun.needed).where(VerificationRun.id == _RUN_ID))).scalar()
    if run != needed:  # none stored yet, or for another number of vouches needed (the configuration changed)
        try:
            async with session.begin_nested():
                everyone = await build(session, needed)
        except SQLAlchemyError:
            return None  # another unit of work is building it, or this one cannot write now: compute instead
        if participant_ids is None:
            return everyone
        return {participant: everyone[participant] for participant in participant_ids if participant in everyone}
    ids = _Ids.of(session.bind.dialect)
    asked = None if participant_ids is None else {ids.to_raw(participant): participant for participant in participant_ids}
    query = select(_raw(VerificationState.participant_id), *state_columns())
    if asked is not None and len(asked) <= IN_LIST_LIMIT:
        query = query.where(VerificationState.participant_id.in_(list(asked.values())))
    found: dict[uuid.UUID, Evidence] = {}
    read = StateReader()
    for raw, *state in await _rows(session, query):
        if asked is None:
            key = ids.from_raw(raw)
        elif raw in asked:
            key = asked[raw]
        else:
            continue
        item = read(*state)
        if item is not None:
            found[key] = item
    return found


async def stored_ready(session: AsyncSession, needed: int) -> bool:
    """Whether the stored states answer for `needed` vouches in this unit of work, so a query may join them
    (`state_columns`, outer-joined on the participant; `StateReader` turns them into evidence)."""
    if _unsettled(session.sync_session):
        return False
    run = (await session.execute(select(VerificationRun.needed).where(VerificationRun.id == _RUN_ID))).scalar()
    if run != needed:
        return await _stored(session, (), needed) is not None  # builds them
    return True


def state_columns() -> tuple[ColumnElement[Any], ...]:
    """The stored verification's columns, as `StateReader` reads them: method (None: unverified), domain, by, note."""
    return (VerificationState.method, VerificationState.domain, VerificationState.by, VerificationState.note)  # type: ignore[return-value]


class StateReader:
    """Stored verification columns to `Evidence` (None when unverified), each voucher's id parsed once."""

    def __init__(self) -> None:
        self._ids: dict[str, uuid.UUID] = {}
        self._methods = {method.value: method for method in Method}
        self._same: dict[tuple[str, str | None, str | None], Evidence] = {}

    def __call__(self, method: str | None, domain: str | None, by: str | None, note: str | None) -> Evidence | None:
        if method is None:
            return None
        if not by:
            key = (method, domain, note)
            item = self._same.get(key)
            if item is None:
                item = self._same[key] = Evidence(self._methods[method], domain=domain, note=note)
            return item
        texts = by.split(" ")
        ids = self._ids
        for text in texts:
            if text not in ids:
                ids[text] = uuid.UUID(text)
        return Evidence(self._methods[method], domain=domain, by=tuple(ids[text] for text in texts), note=note)
