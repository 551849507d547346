"""The sign-off rule: when a ballot adopts a version (DESIGN.md "Sign-off").

Pure functions over plain data, exact `Fraction` arithmetic, no I/O. Nothing else in CoGov
decides adoption: the ballot service stores what `tally` returns.

In words: votes are tallied once per stakeholder group and once per region. Inside a tally
each organisation counts once (k electors of one organisation carry 1/k each; an elector
without an organisation counts alone). A tally passes when its turnout, counted by head,
is at least the quorum and its support (weighted approvals over weighted approvals plus
objections) is more than 1/2 and at least the threshold. A version is adopted only when
every group and every region of the electorate passes, and the electorate spans at least
two groups and two regions, so no group and no region can decide alone.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

HALF = Fraction(1, 2)
MIN_GROUPS = 2
MIN_REGIONS = 2


class Position(StrEnum):
    approve = "approve"
    object = "object"
    abstain = "abstain"


class Dimension(StrEnum):
    group = "group"
    region = "region"


class PolicyInvalid(ValueError):
    """Quorum or threshold outside what the rule allows."""


@dataclass(frozen=True)
class Policy:
    """The sign-off terms of a charter: quorum in (0, 1], threshold in [1/2, 1]."""

    quorum: Fraction = HALF
    threshold: Fraction = HALF

    def __post_init__(self) -> None:
        if not 0 < self.quorum <= 1:
            raise PolicyInvalid(f"quorum must be more than 0 and at most 1, got {self.quorum}")
        if not HALF <= self.threshold <= 1:
            raise PolicyInvalid(f"threshold must be from 1/2 to 1, got {self.threshold}")

    @classmethod
    def parse(cls, quorum: str, threshold: str) -> Policy:
        """A policy from the fraction strings a charter stores ("1/2", "2/3")."""
        return cls(Fraction(quorum), Fraction(threshold))


@dataclass(frozen=True)
class Elector:
    """One member of a ballot's electorate, with the affiliation frozen when it opened."""

    id: Hashable
    stakeholder_group: str
    region: str
    organisation: str | None = None


@dataclass(frozen=True)
class Tally:
    """One stakeholder group's or region's count, and whether (and why not) it passes."""

    dimension: Dimension
    key: str
    electors: int
    voted: int
    approvals: Fraction
    objections: Fraction
    abstentions: Fraction
    turnout: Fraction
    turnout_needed: int
    support: Fraction | None
    passes: bool
    settled: bool
    missing: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """The verdict of the rule over a ballot's electorate and votes.

    `settled` is True when no position the electors who have not voted yet could take
    would change `adopted` (votes already cast held as they are; they may still change
    until the ballot closes).
    """

    adopted: bool
    settled: bool
    groups: tuple[Tally, ...]
    regions: tuple[Tally, ...]
    missing: tuple[str, ...]

    @property
    def tallies(self) -> tuple[Tally, ...]:
        return self.groups + self.regions


def organisation_key(organisation: str | None) -> str | None:
    """Organisations compare by name, ignoring case and spacing ("Acme  Inc" is "ACME inc")."""
    if organisation is None:
        return None
    key = " ".join(organisation.split()).casefold()
    return key or None


def electorate_problems(electorate: Iterable[Elector]) -> list[str]:
    """Why this electorate cannot hold a ballot (it must span 2 groups and 2 regions); empty when it can."""
    electors = list(electorate)
    groups = sorted({elector.stakeholder_group for elector in electors})
    regions = sorted({elector.region for elector in electors})
    problems = []
    if len(groups) < MIN_GROUPS:
        problems.append(
            f"the electorate spans {_count(len(groups), 'stakeholder group')}{_listing(groups)}; "
            f"at least {MIN_GROUPS} are needed so that no group decides alone"
        )
    if len(regions) < MIN_REGIONS:
        problems.append(
            f"the electorate spans {_count(len(regions), 'region')}{_listing(regions)}; "
            f"at least {MIN_REGIONS} are needed so that no region decides alone"
        )
    return problems


def tally(policy: Policy, electorate: Iterable[Elector], votes: Mapping[Hashable, Position | str]) -> Outcome:
    """Apply the sign-off rule.

    `votes` maps elector ids to positions; an elector with no entry has not voted. Every
    group and region present in the electorate gets a tally (sorted by code). Raises
    ValueError for a vote from outside the electorate, an unknown position, or an elector
    listed twice.
    """
    electors = list(electorate)
    ids = {elector.id for elector in electors}
    if len(ids) != len(electors):
        raise ValueError("an elector appears more than once in the electorate")
    strangers = [voter for voter in votes if voter not in ids]
    if strangers:
        raise ValueError(f"votes from outside the electorate: {strangers[:5]!r}")
    columns = {voter: _column(position) for voter, position in votes.items()}

    # Per tally, per organisation (or lone elector): [electors, approvals, objections, abstentions] by head.
    heads: dict[tuple[Dimension, str], dict[Hashable, list[int]]] = {}
    organisations: dict[str, str | None] = {}
    for elector in electors:
        name = elector.organisation
        organisation = None
        if name is not None:
            organisation = organisations.get(name, ...)
            if organisation is ...:
                organisation = organisations[name] = organisation_key(name)
        unit = ("organisation", organisation) if organisation is not None else ("elector", elector.id)
        column = columns.get(elector.id)
        for place in ((Dimension.group, elector.stakeholder_group), (Dimension.region, elector.region)):
            units = heads.get(place)
            if units is None:
                units = heads[place] = {}
            row = units.get(unit)
            if row is None:
                row = units[unit] = [0, 0, 0, 0]
            row[0] += 1
            if column:
                row[column] += 1

    counts = {place: _Count.of(units) for place, units in sorted(heads.items())}
    tallies = [_evaluate(policy, place, count) for place, count in counts.items()]
    groups = tuple(t for t in tallies if t.dimension is Dimension.group)
    regions = tuple(t for t in tallies if t.dimension is Dimension.region)

    problems = tuple(electorate_problems(electors))
    adopted = not problems and all(t.passes for t in tallies)
    if problems:
        settled = True
    elif adopted:
        settled = all(t.settled for t in tallies)
    else:
        # Every tally at its best at once: every elector yet to vote approves.
        settled = not all(count.could_pass(policy) for count in counts.values())
    missing = problems + tuple(line for t in groups + regions for line in t.missing)
    return Outcome(adopted=adopted, settled=settled, groups=groups, regions=regions, missing=missing)


# What a ballot still needs, in terms of its electorate


@dataclass(frozen=True)
class Reach:
    """A tally that votes still to come can make pass: how many of its electors yet to vote must approve, and
    how many must vote at all (approvals included) to reach the quorum. `0 <= approvals <= votes <= len(waiting)`;
    `approvals` is the fewest whole electors (those of the smallest organisations first)."""

    dimension: Dimension
    key: str
    waiting: tuple[Hashable, ...]
    approvals: int
    votes: int


@dataclass(frozen=True)
class Blocked:
    """A tally no vote still to come can make pass, whatever it is: only a vote already cast, changed, can.
    Changing the votes of `change` to approvals (everyone yet to vote approving) would let it pass."""

    dimension: Dimension
    key: str
    electors: int
    objecting: tuple[Hashable, ...]
    abstaining: tuple[Hashable, ...]
    change: tuple[Hashable, ...]


@dataclass(frozen=True)
class Prospects:
    """What adoption still needs from this ballot's electorate, each need once.

    `problems`: the electorate cannot adopt at all. `required`: electors yet to vote who must all approve
    (some tally passes in no other way). `reach`: tallies needing more than those approvals. `blocked`: tallies
    that votes still to come cannot make pass. All empty when the ballot would adopt if it closed now.
    """

    problems: tuple[str, ...]
    required: tuple[Hashable, ...]
    reach: tuple[Reach, ...]
    blocked: tuple[Blocked, ...]


def prospects(policy: Policy, electorate: Iterable[Elector], votes: Mapping[Hashable, Position | str]) -> Prospects:
    """What adoption still needs (see `Prospects`), naming only electors of this electorate and asking only
    for what they can still do. Raises ValueError as `tally` does."""
    electors = list(electorate)
    outcome = tally(policy, electors, votes)
    problems = tuple(electorate_problems(electors))
    if problems or outcome.adopted:
        return Prospects(problems, (), (), ())
    positions = {voter: Position(position) for voter, position in votes.items()}
    places = _places(electors)
    required: dict[Hashable, None] = {}
    reach: list[Reach] = []
    blocked: list[Blocked] = []
    for verdict in outcome.tallies:
        if verdict.passes:
            continue
        members = places[(verdict.dimension, verdict.key)]
        waiting = sorted((m for m in members if m[0] not in positions), key=lambda m: -m[1])
        approvals = sum((w for e, w in members if positions.get(e) is Position.approve), Fraction(0))
        objections = sum((w for e, w in members if positions.get(e) is Position.object), Fraction(0))
        voted = len(members) - len(waiting)
        needed = _turnout_needed(policy.quorum, len(members))
        if _passes(policy, len(members), len(members), approvals + sum(w for _, w in waiting), objections):
            fewest = 0
            while not _support_passes(policy.threshold, approvals + sum(w for _, w in waiting[:fewest]), objections):
                fewest += 1
            ids = tuple(e for e, _ in waiting)
            if fewest == len(waiting):
                required.update(dict.fromkeys(ids))
            else:
                reach.append(Reach(verdict.dimension, verdict.key, ids, fewest, max(fewest, needed - voted)))
        else:
            cast = [(e, w, positions[e]) for e, w in members if e in positions and positions[e] is not Position.approve]
            best = _fewest_changes(policy, approvals + sum(w for _, w in waiting), objections, cast)
            blocked.append(
                Blocked(
                    verdict.dimension,
                    verdict.key,
                    len(members),
                    tuple(e for e, _, p in cast if p is Position.object),
                    tuple(e for e, _, p in cast if p is Position.abstain),
                    best,
                )
            )
    # A tally that the required approvals alone would make pass needs nothing more: it is not said twice.
    uncovered = []
    for need in reach:
        members = places[(need.dimension, need.key)]
        after = {**positions, **{e: Position.approve for e in need.waiting if e in required}}
        approvals = sum((w for e, w in members if after.get(e) is Position.approve), Fraction(0))
        objections = sum((w for e, w in members if after.get(e) is Position.object), Fraction(0))
        if not _passes(policy, len(members), sum(1 for e, _ in members if e in after), approvals, objections):
            uncovered.append(need)
    return Prospects((), tuple(e.id for e in electors if e.id in required), tuple(uncovered), tuple(blocked))


def _places(electors: list[Elector]) -> dict[tuple[Dimension, str], list[tuple[Hashable, Fraction]]]:
    """Each tally's electors with their weight in it (1/k for k electors of one organisation in the tally)."""
    units: dict[tuple[Dimension, str], dict[Hashable, list[Hashable]]] = {}
    for elector in electors:
        organisation = organisation_key(elector.organisation)
        unit = ("organisation", organisation) if organisation is not None else ("elector", elector.id)
        for place in ((Dimension.group, elector.stakeholder_group), (Dimension.region, elector.region)):
            units.setdefault(place, {}).setdefault(unit, []).append(elector.id)
    return {place: [(elector, Fraction(1, len(ids))) for ids in by_unit.values() for elector in ids] for place, by_unit in units.items()}


def _fewest_changes(
    policy: Policy, approvals: Fraction, objections: Fraction, cast: list[tuple[Hashable, Fraction, Position]]
) -> tuple[Hashable, ...]:
    """Votes to change to approvals that make the support pass: the shortest prefix of either greedy order
    (by what each change adds to the support's margin, or to approvals over objections)."""
    threshold = policy.threshold
    orders = (
        sorted(cast, key=lambda c: -(c[1] if c[2] is Position.object else c[1] * (1 - threshold))),
        sorted(cast, key=lambda c: -(2 * c[1] if c[2] is Position.object else c[1])),
    )
    best: tuple[Hashable, ...] = tuple(e for e, _, _ in cast)
    for order in orders:
        more, fewer = approvals, objections
        for count, (_, weight, position) in enumerate(order, start=1):
            more += weight
            if position is Position.object:
                fewer -= weight
            if _support_passes(threshold, more, fewer):
                if count < len(best):
                    best = tuple(e for e, _, _ in order[:count])
                break
    return best


# Internals

_COLUMN: dict[Position | str, int] = {Position.approve: 1, Position.object: 2, Position.abstain: 3}


def _column(position: Position | str) -> int:
    """Where a position is counted (1 approve, 2 object, 3 abstain); ValueError for an unknown one."""
    column = _COLUMN.get(position)  # a StrEnum hashes as its string, so "approve" finds it too
    if column is None:
        raise ValueError(f"{position!r} is not a position: use approve, object or abstain")
    return column


@dataclass(frozen=True)
class _Count:
    """One tally's totals: heads, and weights where each organisation (or lone elector) weighs 1."""

    electors: int
    voted: int
    units: int
    approvals: Fraction
    objections: Fraction
    abstentions: Fraction

    @classmethod
    def of(cls, units: Mapping[Hashable, list[int]]) -> _Count:
        # Heads per organisation size k, summed as integers, then divided once over a common denominator.
        by_size: dict[int, list[int]] = {}
        for size, approve, object_, abstain in units.values():
            totals = by_size.setdefault(size, [0, 0, 0])
            totals[0] += approve
            totals[1] += object_
            totals[2] += abstain
        common = math.lcm(*by_size)
        weights = [Fraction(sum(totals[i] * (common // size) for size, totals in by_size.items()), common) for i in range(3)]
        electors = sum(row[0] for row in units.values())
        voted = sum(row[1] + row[2] + row[3] for row in units.values())
        return cls(electors, voted, len(units), *weights)

    @property
    def waiting(self) -> Fraction:
        """The weight of electors who have not voted."""
        return self.units - self.approvals - self.objections - self.abstentions

    def could_pass(self, policy: Policy) -> bool:
        """Whether the tally passes if every elector yet to vote approves."""
        return _passes(policy, self.electors, self.electors, self.approvals + self.waiting, self.objections)


def _turnout_needed(quorum: Fraction, electors: int) -> int:
    return math.ceil(quorum * electors)


def _passes(policy: Policy, electors: int, voted: int, approvals: Fraction, objections: Fraction) -> bool:
    return voted >= _turnout_needed(policy.quorum, electors) and _support_passes(policy.threshold, approvals, objections)


def _support_passes(threshold: Fraction, approvals: Fraction, objections: Fraction) -> bool:
    # More than half and at least the threshold; no approvals never passes.
    return approvals > 0 and approvals > objections and approvals >= threshold * (approvals + objections)


def _evaluate(policy: Policy, place: tuple[Dimension, str], count: _Count) -> Tally:
    dimension, key = place
    electors, voted, approvals, objections = count.electors, count.voted, count.approvals, count.objections
    passes = _passes(policy, electors, voted, approvals, objections)
    if passes:
        # Worst cases: nobody else votes (nothing changes), or everyone else objects.
        settled = _passes(policy, electors, electors, approvals, objections + count.waiting)
    else:
        settled = not count.could_pass(policy)
    support = approvals / (approvals + objections) if approvals + objections else None
    needed = _turnout_needed(policy.quorum, electors)
    missing = () if passes else _missing(policy, key, electors, voted, needed, approvals, objections, support, settled)
    return Tally(
        dimension=dimension,
        key=key,
        electors=electors,
        voted=voted,
        approvals=approvals,
        objections=objections,
        abstentions=count.abstentions,
        turnout=Fraction(voted, electors),
        turnout_needed=needed,
        support=support,
        passes=passes,
        settled=settled,
        missing=missing,
    )


def _missing(
    policy: Policy,
    key: str,
    electors: int,
    voted: int,
    needed: int,
    approvals: Fraction,
    objections: Fraction,
    support: Fraction | None,
    settled: bool,
) -> tuple[str, ...]:
    lines = []
    if voted < needed:
        lines.append(f"turnout {voted} of {electors} in {key}, needs {needed}")
    if not _support_passes(policy.threshold, approvals, objections):
        target = "more than 1/2" if policy.threshold == HALF else f"at least {policy.threshold} and more than 1/2"
        now = "no approvals yet" if support is None else f"support {support}"
        if policy.threshold == 1 and objections:
            lines.append(f"needs every objection in {key} withdrawn: the threshold is 1 ({now})")
        else:
            more = _approvals_short(policy.threshold, approvals, objections)
            lines.append(f"needs approvals from {_count(more, 'more organisation')} in {key} ({now}, needs {target})")
    if settled and 0 < voted < electors:
        waiting = electors - voted
        lines.append(f"the {_count(waiting, 'elector')} of {key} yet to vote cannot make it pass alone; a changed vote is needed")
    return tuple(lines)


def _approvals_short(threshold: Fraction, approvals: Fraction, objections: Fraction) -> int:
    """The fewest whole organisations whose approval would make the support pass (threshold < 1 or no objections)."""
    lower = threshold * objections / (1 - threshold) - approvals if threshold < 1 else -approvals
    more = max(1, math.ceil(lower))
    while not _support_passes(threshold, approvals + more, objections):
        more += 1
    return more


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listing(codes: list[str]) -> str:
    return f" ({', '.join(codes)})" if codes else ""
