"""Who is verified: the rule over affiliations, roots and vouches (DESIGN.md "Verified affiliations").

Pure functions over plain data, no I/O. An affiliation is verified

- by its root evidence: an address at one of its organisation's verified domains, or a
  registrar's confirmation (the service finds these); a registrar's revocation overrides
  every kind of evidence; or
- by vouching: at least `needed` standing vouches for this exact affiliation from
  participants who are themselves verified, in the same stakeholder group, not of the
  candidate's organisation, and from different organisations (each independent expert
  is their own).

Vouches can chain, but every chain starts at a root: verification spreads outwards from
the roots only (a least fixed point, computed breadth first), so a ring of accounts
vouching for one another verifies none of them. Withdrawing a vouch or removing a root
therefore never verifies anyone more.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Method(StrEnum):
    domain = "domain"
    vouching = "vouching"
    registrar = "registrar"


@dataclass(frozen=True)
class Candidate:
    """A participant's current affiliation, as the rule reads it; `organisation` None is an independent expert."""

    participant: Hashable
    affiliation: Hashable
    stakeholder_group: str
    organisation: Hashable | None


@dataclass(frozen=True)
class Evidence:
    """How an affiliation is verified: by which domain, by whose vouches, or by which registrar and note."""

    method: Method
    domain: str | None = None
    by: tuple[Hashable, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Vouch:
    voucher: Hashable
    affiliation: Hashable


def verify(
    candidates: Iterable[Candidate],
    roots: Mapping[Hashable, Evidence],
    vouches: Iterable[Vouch],
    needed: int,
    revoked: Iterable[Hashable] = (),
) -> dict[Hashable, Evidence]:
    """Every verified participant (among `candidates`) with their evidence.

    `roots` maps participants to root evidence (domain or registrar); `vouches` name the
    affiliation vouched for, so a vouch for an affiliation that is no longer current counts
    for nothing; `revoked` participants are never verified. Vouches from participants not
    among the candidates count for nothing.
    """
    if needed < 1:
        raise ValueError(f"needed must be at least 1, got {needed}")
    by_participant = {candidate.participant: candidate for candidate in candidates}
    by_affiliation = {candidate.affiliation: candidate for candidate in by_participant.values()}
    barred = set(revoked)
    verified: dict[Hashable, Evidence] = {}
    queue: deque[Hashable] = deque()
    for participant, evidence in roots.items():
        if participant in by_participant and participant not in barred:
            verified[participant] = evidence
            queue.append(participant)

    # Each vouch keeps its place in `vouches` (oldest first, as stored), so evidence names vouchers in that order.
    vouches_by_voucher: dict[Hashable, list[tuple[int, Hashable]]] = defaultdict(list)
    for place, vouch in enumerate(vouches):
        candidate = by_affiliation.get(vouch.affiliation)
        if candidate is not None and candidate.participant != vouch.voucher:
            vouches_by_voucher[vouch.voucher].append((place, candidate.participant))

    # For each candidate: the organisations (or lone experts) already vouching, each with its vouch's place.
    units: dict[Hashable, dict[Hashable, tuple[int, Hashable]]] = defaultdict(dict)
    while queue:
        voucher = by_participant[queue.popleft()]
        unit = ("organisation", voucher.organisation) if voucher.organisation is not None else ("expert", voucher.participant)
        for place, participant in vouches_by_voucher.get(voucher.participant, ()):
            if participant in verified or participant in barred:
                continue
            candidate = by_participant[participant]
            if not counts(voucher, candidate):
                continue
            units[participant].setdefault(unit, (place, voucher.participant))
            if len(units[participant]) >= needed:
                by = tuple(who for _place, who in sorted(units[participant].values(), key=lambda item: item[0]))
                verified[participant] = Evidence(Method.vouching, by=by[:needed])
                queue.append(participant)
    return verified


def counts(voucher: Candidate, candidate: Candidate) -> bool:
    """Whether a (verified) voucher's word can count for this candidate: same group, another organisation."""
    if voucher.participant == candidate.participant or voucher.stakeholder_group != candidate.stakeholder_group:
        return False
    return candidate.organisation is None or voucher.organisation != candidate.organisation


def describe(evidence: Evidence | None, names: Mapping[Hashable, str] | None = None) -> str:
    """The evidence in words, as badges and ballots show it: "verified by domain anatel.gov.br"."""
    if evidence is None:
        return "unverified"
    named = [names.get(who, str(who)) if names else str(who) for who in evidence.by]
    if evidence.method is Method.domain:
        return f"verified by domain {evidence.domain}"
    if evidence.method is Method.registrar:
        return f"verified by registrar {named[0]}" if named else "verified by a registrar"
    return "vouched by " + _and(named)


def _and(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
