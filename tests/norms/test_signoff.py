"""The sign-off rule: hand-worked examples and property tests of DESIGN.md's invariants."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from norms.signoff import (
    Elector,
    Outcome,
    Policy,
    PolicyInvalid,
    Position,
    Prospects,
    Tally,
    electorate_problems,
    organisation_key,
    prospects,
    tally,
)

A, O, X = Position.approve, Position.object, Position.abstain  # noqa: E741  (the worked tables' marks: approve, object, abstain)
F = Fraction
SIMPLE = Policy()  # quorum 1/2, threshold 1/2


def electors(*rows: tuple) -> list[Elector]:
    """Electors numbered from 1: each row is (group, region, organisation-or-None)."""
    return [Elector(n, group, region, organisation) for n, (group, region, organisation) in enumerate(rows, start=1)]


def failing(outcome: Outcome) -> set[str]:
    return {t.key for t in outcome.tallies if not t.passes}


def by_key(outcome: Outcome, key: str):
    return next(t for t in outcome.tallies if t.key == key)


# Examples, worked by hand. Groups: gov, biz, civ, tech; regions: africa, asia, europe, latam.

BASE = [("gov", "africa", "Ministry KE"), ("biz", "asia", "Rede"), ("civ", "europe", "EDRi")]
CAPTURE = [("biz", "asia", "MegaCorp")] * 9 + [("biz", "asia", "Small Co"), ("biz", "asia", "Tiny Ltd")]

EXAMPLES = [
    # name, policy, electorate rows, votes by elector number, adopted, failing tallies, a phrase of `missing`
    ("unanimous approval across three groups and regions", SIMPLE, BASE, {1: A, 2: A, 3: A}, True, set(), None),
    (
        # 9 employees of one company carry 1/9 each: MegaCorp weighs 1 against 2 objecting firms.
        "organisation capture: nine employees of one company count as one organisation",
        SIMPLE,
        [*CAPTURE, ("gov", "africa", None), ("civ", "europe", None)],
        {**{n: A for n in range(1, 10)}, 10: O, 11: O, 12: A, 13: A},
        False,
        {"biz", "asia"},
        "needs approvals from 2 more organisations in biz (support 1/3, needs more than 1/2)",
    ),
    (
        "a single-member group blocks: the only government elector objects",
        SIMPLE,
        [("gov", "africa", "Ministry"), ("biz", "africa", "A"), ("biz", "asia", "B"), ("civ", "asia", "C"), ("civ", "africa", "D")],
        {1: O, 2: A, 3: A, 4: A, 5: A},
        False,
        {"gov"},
        "needs approvals from 2 more organisations in gov (support 0, needs more than 1/2)",
    ),
    (
        "quorum failure: 2 of 5 civil-society electors voted",
        SIMPLE,
        [("gov", "africa", "G"), ("biz", "asia", "B"), *[("civ", "asia", f"C{n}") for n in range(5)]],
        {1: A, 2: A, 3: A, 4: A},
        False,
        {"civ"},
        "turnout 2 of 5 in civ, needs 3",
    ),
    (
        "quorum met exactly: 3 of 6 is 1/2",
        SIMPLE,
        [("gov", "africa", "G"), ("biz", "asia", "B"), *[("civ", "asia", f"C{n}") for n in range(6)]],
        {1: A, 2: A, 3: A, 4: A, 5: A},
        True,
        set(),
        None,
    ),
    (
        "support of exactly 1/2 is not enough",
        SIMPLE,
        [("gov", "africa", "G"), ("biz", "asia", "B1"), ("biz", "asia", "B2"), ("civ", "europe", "C")],
        {1: A, 2: A, 3: O, 4: A},
        False,
        {"biz", "asia"},
        "needs approvals from 1 more organisation in biz (support 1/2, needs more than 1/2)",
    ),
    (
        "threshold 2/3 met exactly: 2 of 3 organisations approve",
        Policy(F(1, 2), F(2, 3)),
        [("gov", "africa", "G"), *[("biz", "asia", f"B{n}") for n in range(3)], ("civ", "europe", "C")],
        {1: A, 2: A, 3: A, 4: O, 5: A},
        True,
        set(),
        None,
    ),
    (
        "threshold 2/3 missed: 3 of 5 is less",
        Policy(F(1, 2), F(2, 3)),
        [("gov", "africa", "G"), *[("biz", "asia", f"B{n}") for n in range(5)], ("civ", "europe", "C")],
        {1: A, 2: A, 3: A, 4: A, 5: O, 6: O, 7: A},
        False,
        {"biz", "asia"},
        "needs approvals from 1 more organisation in biz (support 3/5, needs at least 2/3 and more than 1/2)",
    ),
    (
        "abstentions count towards turnout, not support",
        SIMPLE,
        [("gov", "africa", "G"), *[("biz", "asia", f"B{n}") for n in range(4)], ("civ", "europe", "C")],
        {1: A, 2: A, 3: X, 4: X, 6: A},
        True,
        set(),
        None,
    ),
    (
        "no approvals never passes, however high the turnout",
        SIMPLE,
        [("gov", "africa", "G"), ("biz", "asia", "B"), ("civ", "europe", "C")],
        {1: A, 2: X, 3: A},
        False,
        {"biz", "asia"},
        "needs approvals from 1 more organisation in biz (no approvals yet, needs more than 1/2)",
    ),
    (
        "quorum 2/3 met exactly by 2 of 3",
        Policy(F(2, 3), F(1, 2)),
        [("gov", "africa", "G1"), ("gov", "africa", "G2"), ("gov", "africa", "G3"), ("biz", "asia", "B")],
        {1: A, 2: A, 4: A},
        True,
        set(),
        None,
    ),
    (
        "one region only: unanimous approval still cannot adopt",
        SIMPLE,
        [("gov", "europe", "G"), ("biz", "europe", "B"), ("civ", "europe", "C")],
        {1: A, 2: A, 3: A},
        False,
        set(),
        "the electorate spans 1 region (europe); at least 2 are needed so that no region decides alone",
    ),
    (
        "a region fails while every group passes",
        SIMPLE,
        [
            ("gov", "africa", "G1"),
            ("gov", "asia", "G2"),
            ("gov", "asia", "G3"),
            ("biz", "asia", "B1"),
            ("biz", "asia", "B2"),
            ("biz", "africa", "B3"),
        ],
        {1: O, 2: A, 3: A, 4: A, 5: A, 6: O},
        False,
        {"africa"},
        "needs approvals from 3 more organisations in africa (support 0, needs more than 1/2)",
    ),
    (
        "electors without an organisation count one each",
        SIMPLE,
        [*[("biz", "asia", None)] * 3, *[("biz", "asia", "Acme")] * 3, ("gov", "africa", "G")],
        {1: A, 2: A, 3: A, 4: O, 5: O, 6: O, 7: A},
        True,
        set(),
        None,
    ),
    (
        "threshold 1: a single objection blocks",
        Policy(F(1, 2), F(1)),
        [("gov", "africa", "G"), *[("biz", "asia", f"B{n}") for n in range(4)]],
        {1: A, 2: A, 3: A, 4: A, 5: O},
        False,
        {"biz", "asia"},
        "needs every objection in biz withdrawn: the threshold is 1 (support 3/4)",
    ),
    (
        "organisation names match ignoring case and spacing",
        SIMPLE,
        [("gov", "africa", "G"), ("biz", "asia", "Acme Inc"), ("biz", "asia", "ACME  inc"), ("biz", "asia", "Other")],
        {1: A, 2: A, 3: A, 4: O},
        False,
        {"biz", "asia"},
        "(support 1/2, needs more than 1/2)",
    ),
]


@pytest.mark.parametrize(
    ("policy", "rows", "votes", "adopted", "fails", "phrase"),
    [pytest.param(*case[1:], id=case[0]) for case in EXAMPLES],
)
def test_worked_examples(policy, rows, votes, adopted, fails, phrase):
    outcome = tally(policy, electors(*rows), votes)
    assert outcome.adopted is adopted
    assert failing(outcome) == fails
    if phrase:
        assert any(phrase in line for line in outcome.missing), outcome.missing
    else:
        assert outcome.missing == ()


def test_there_are_at_least_twelve_worked_examples():
    assert len(EXAMPLES) >= 12


def test_a_tally_reports_exact_weights_turnout_and_support():
    outcome = tally(SIMPLE, electors(*CAPTURE, ("gov", "africa", None)), {**{n: A for n in range(1, 10)}, 10: O, 11: X})
    biz = by_key(outcome, "biz")
    assert (biz.electors, biz.voted, biz.turnout_needed) == (11, 11, 6)
    assert (biz.approvals, biz.objections, biz.abstentions) == (F(1), F(1), F(1))
    assert biz.turnout == 1 and biz.support == F(1, 2) and not biz.passes
    assert by_key(outcome, "gov").support is None  # nobody voted there


def test_weights_are_per_tally_an_organisation_split_across_groups_counts_once_in_each():
    rows = [("biz", "asia", "Acme"), ("biz", "asia", "Acme"), ("civ", "asia", "Acme"), ("gov", "africa", None)]
    outcome = tally(SIMPLE, electors(*rows), {1: A, 3: A})
    assert by_key(outcome, "biz").approvals == F(1, 2)
    assert by_key(outcome, "civ").approvals == 1
    assert by_key(outcome, "asia").approvals == F(2, 3)


def test_settled_when_the_electors_yet_to_vote_cannot_change_the_result():
    rows = [("gov", "africa", "G"), ("biz", "asia", "B1"), ("biz", "asia", "B2"), ("biz", "asia", "B3")]
    # Two of three organisations in biz object: even if the third approves, support is 1/3.
    blocked = tally(SIMPLE, electors(*rows), {1: A, 2: O, 3: O})
    assert not blocked.adopted and blocked.settled
    assert "the 1 elector of biz yet to vote cannot make it pass alone; a changed vote is needed" in blocked.missing
    # Two approve: the third objecting leaves 2/3 > 1/2, and abstaining keeps turnout at 2/3.
    won = tally(SIMPLE, electors(*rows), {1: A, 2: A, 3: A})
    assert won.adopted and won.settled
    open_question = tally(SIMPLE, electors(*rows), {1: A, 2: A, 3: O})
    assert not open_question.adopted and not open_question.settled


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="outside the electorate"):
        tally(SIMPLE, electors(*BASE), {99: A})
    with pytest.raises(ValueError):
        tally(SIMPLE, electors(*BASE), {1: "maybe"})
    with pytest.raises(ValueError, match="more than once"):
        tally(SIMPLE, [Elector(1, "gov", "africa"), Elector(1, "biz", "asia")], {})
    for quorum, threshold in [(F(0), F(1, 2)), (F(3, 2), F(1, 2)), (F(1, 2), F(2, 5)), (F(1, 2), F(11, 10))]:
        with pytest.raises(PolicyInvalid):
            Policy(quorum, threshold)
    assert Policy.parse("2/3", "3/4") == Policy(F(2, 3), F(3, 4))


def test_electorate_problems_explain_a_narrow_electorate():
    assert electorate_problems(electors(*BASE)) == []
    problems = electorate_problems(electors(("gov", "africa", None), ("gov", "africa", None)))
    assert problems == [
        "the electorate spans 1 stakeholder group (gov); at least 2 are needed so that no group decides alone",
        "the electorate spans 1 region (africa); at least 2 are needed so that no region decides alone",
    ]
    assert len(electorate_problems([])) == 2


def test_organisation_key():
    assert organisation_key("  Acme \t Inc ") == organisation_key("ACME inc") == "acme inc"
    assert organisation_key("   ") is None and organisation_key(None) is None


# Properties: thousands of random electorates, votes and policies.

GROUPS = ["government", "private_sector", "civil_society", "technical_academic", "intergovernmental"]
REGIONS = ["africa", "asia_pacific", "eastern_europe", "latin_america_caribbean", "western_europe_others"]
ORGANISATIONS = [None, "Acme", "acme ", "Rede", "EDRi", "NUS", "Ministry"]
POSITIONS = list(Position)
MANY = settings(max_examples=1000, deadline=None)
SOME = settings(max_examples=300, deadline=None)  # for properties that try many completions of each ballot


def fractions_between(low: Fraction, high: Fraction) -> st.SearchStrategy[Fraction]:
    return st.builds(Fraction, st.integers(1, 12), st.integers(1, 12)).filter(lambda f: low <= f <= high)


policies = st.builds(
    Policy,
    quorum=st.one_of(st.just(F(1, 2)), fractions_between(F(1, 12), F(1))),
    threshold=st.one_of(st.just(F(1, 2)), fractions_between(F(1, 2), F(1))),
)
VOTES = [None, None, A, A, A, O, X]  # a third do not vote; approval is the likeliest position
CHOICES = (GROUPS[:4], REGIONS[:4], ORGANISATIONS, VOTES)


def decode(code: int) -> tuple:
    """One integer per elector picks its group, region, organisation and vote (cheap to draw, shrinks to the first of each)."""
    picked = []
    for options in CHOICES:
        code, index = divmod(code, len(options))
        picked.append(options[index])
    return tuple(picked)


rows = st.integers(0, math.prod(len(options) for options in CHOICES) - 1).map(decode)


@st.composite
def ballots(draw, min_size=2, max_size=20):
    """(policy, electorate, votes) over four groups, four regions and a few organisations."""
    drawn = draw(st.lists(rows, min_size=min_size, max_size=max_size))
    electorate = electors(*(row[:3] for row in drawn))
    votes = {elector.id: row[3] for elector, row in zip(electorate, drawn, strict=True) if row[3] is not None}
    return draw(policies), electorate, votes


def approving_heads(electorate, votes, attribute):
    return {getattr(e, attribute) for e in electorate if votes.get(e.id) is A}


@MANY
@given(ballots())
def test_an_adoption_has_an_approval_in_every_group_and_region(ballot):
    policy, electorate, votes = ballot
    if tally(policy, electorate, votes).adopted:
        assert approving_heads(electorate, votes, "stakeholder_group") == {e.stakeholder_group for e in electorate}
        assert approving_heads(electorate, votes, "region") == {e.region for e in electorate}


@MANY
@given(ballots(), st.sampled_from(["stakeholder_group", "region"]), st.data())
def test_the_votes_of_one_group_or_one_region_alone_never_adopt(ballot, attribute, data):
    policy, electorate, _ = ballot
    alone = data.draw(st.sampled_from(sorted({getattr(e, attribute) for e in electorate})))
    # Everyone in that group (or region) approves; nobody else votes.
    only = {e.id: A for e in electorate if getattr(e, attribute) == alone}
    assert not tally(policy, electorate, only).adopted


@MANY
@given(ballots(), st.integers(0, 2**32))
def test_turning_an_objection_into_an_approval_never_undoes_adoption(ballot, seed):
    policy, electorate, votes = ballot
    rng = random.Random(seed)
    objectors = sorted(voter for voter, position in votes.items() if position is O)
    if not objectors:  # give the ballot an objection rather than discard it (Hypothesis refuses to discard most inputs)
        objectors = [rng.choice(electorate).id]
        votes = {**votes, objectors[0]: O}
    convert = rng.choice(objectors)
    before = tally(policy, electorate, votes)
    after = tally(policy, electorate, {**votes, convert: A})
    assert not before.adopted or after.adopted
    for old, new in zip(before.tallies, after.tallies, strict=True):
        assert not old.passes or new.passes


@MANY
@given(ballots(min_size=1), st.integers(0, 2**32))
def test_adding_electors_of_an_organisation_already_present_never_raises_its_weight(ballot, seed):
    policy, electorate, votes = ballot
    rng = random.Random(seed)
    members = [e for e in electorate if organisation_key(e.organisation)]
    assume(members)
    chosen = organisation_key(rng.choice(members).organisation)
    colleagues = [e for e in electorate if organisation_key(e.organisation) == chosen]
    newcomers = [
        Elector(1000 + n, *rng.choice([(e.stakeholder_group, e.region) for e in colleagues]), chosen.upper())
        for n in range(rng.randint(1, 5))
    ]
    # Only that organisation votes, so each tally's weighted total is that organisation's weight.
    own_votes = {e.id: rng.choice(POSITIONS) for e in colleagues}
    all_votes = {**own_votes, **{e.id: rng.choice(POSITIONS) for e in newcomers}}

    def weight(t: Tally) -> Fraction:
        return t.approvals + t.objections + t.abstentions

    assert all(weight(t) <= 1 for t in tally(policy, electorate, own_votes).tallies)
    assert all(weight(t) <= 1 for t in tally(policy, [*electorate, *newcomers], all_votes).tallies)
    unanimous = tally(policy, [*electorate, *newcomers], dict.fromkeys(all_votes, A))
    present = {(d, getattr(e, a)) for e in [*colleagues, *newcomers] for d, a in (("group", "stakeholder_group"), ("region", "region"))}
    assert all(t.approvals == (1 if (t.dimension, t.key) in present else 0) for t in unanimous.tallies)
    # Newcomers who do not vote only dilute: no tally's approvals or objections grow.
    original = tally(policy, electorate, votes)
    silent = tally(policy, [*electorate, *newcomers], votes)
    for old, new in zip(original.tallies, silent.tallies, strict=True):
        assert (old.dimension, old.key) == (new.dimension, new.key)
        assert new.approvals <= old.approvals and new.objections <= old.objections


@MANY
@given(ballots(), st.integers(0, 2**32))
def test_the_outcome_does_not_depend_on_the_order_of_votes_or_electors(ballot, seed):
    policy, electorate, votes = ballot
    rng = random.Random(seed)
    shuffled_electorate = rng.sample(electorate, len(electorate))
    shuffled_votes = dict(rng.sample(list(votes.items()), len(votes)))
    assert tally(policy, shuffled_electorate, shuffled_votes) == tally(policy, electorate, votes)


@MANY
@given(ballots(), st.integers(0, 2**32))
def test_a_settled_outcome_holds_whatever_the_remaining_electors_do(ballot, seed):
    policy, electorate, votes = ballot
    rng = random.Random(seed)
    outcome = tally(policy, electorate, votes)
    waiting = [e.id for e in electorate if e.id not in votes]
    completion = {voter: rng.choice([None, *POSITIONS]) for voter in waiting}
    completed = tally(policy, electorate, {**votes, **{k: v for k, v in completion.items() if v}})
    if outcome.settled:
        assert completed.adopted == outcome.adopted
    for t, c in zip(outcome.tallies, completed.tallies, strict=True):
        if t.settled:
            assert c.passes == t.passes


@MANY
@given(ballots())
def test_a_failing_tally_says_what_is_missing_and_a_passing_one_says_nothing(ballot):
    outcome = tally(*ballot)
    for t in outcome.tallies:
        assert bool(t.missing) != t.passes
        assert t.passes == (
            t.voted >= t.turnout_needed and t.support is not None and t.support > F(1, 2) and t.support >= ballot[0].threshold
        )
    assert outcome.adopted == (not outcome.missing)


def test_the_worked_example_in_docs_signoff():
    rows = [
        ("Aiko", "private_sector", "asia_pacific", "BigTel", A),
        ("Bao", "private_sector", "asia_pacific", "BigTel", A),
        ("Chidi", "private_sector", "africa", "BigTel", A),
        ("Dmitri", "private_sector", "eastern_europe", "CloudCo", O),
        ("Elena", "private_sector", "latin_america_caribbean", "FiberSur", O),
        ("Fatou", "civil_society", "africa", "Net Rights Africa", A),
        ("Gabriel", "civil_society", "latin_america_caribbean", None, A),
        ("Hanna", "technical_academic", "western_europe_others", "TU Routing", A),
        ("Ines", "technical_academic", "eastern_europe", "TU Routing", X),
    ]
    electorate = [Elector(name, group, region, organisation) for name, group, region, organisation, _ in rows]
    votes = {name: vote for name, *_, vote in rows}
    policy = Policy(F(1, 2), F(2, 3))

    outcome = tally(policy, electorate, votes)
    assert not outcome.adopted
    private = by_key(outcome, "private_sector")
    assert (private.approvals, private.objections, private.support) == (1, 2, F(1, 3))
    technical = by_key(outcome, "technical_academic")
    assert (technical.approvals, technical.abstentions, technical.voted, technical.passes) == (F(1, 2), F(1, 2), 2, True)
    assert by_key(outcome, "asia_pacific").approvals == 1 and by_key(outcome, "africa").approvals == 2
    assert failing(outcome) == {"private_sector", "eastern_europe", "latin_america_caribbean"}
    assert outcome.missing == (
        "needs approvals from 3 more organisations in private_sector (support 1/3, needs at least 2/3 and more than 1/2)",
        "needs approvals from 2 more organisations in eastern_europe (support 0, needs at least 2/3 and more than 1/2)",
        "needs approvals from 1 more organisation in latin_america_caribbean (support 1/2, needs at least 2/3 and more than 1/2)",
    )
    dmitri = tally(policy, electorate, votes | {"Dmitri": A})
    assert by_key(dmitri, "private_sector").support == F(2, 3) and failing(dmitri) == {"latin_america_caribbean"}
    assert tally(policy, electorate, votes | {"Dmitri": A, "Elena": A}).adopted


# What adoption still needs (`prospects`): only what this electorate can still do, each need once.


def test_one_government_elector_who_objects_blocks_government_and_only_her_changed_vote_can_unblock_it():
    electorate = electors(("gov", "europe", "Ministry RO"), ("civ", "europe", "EDRi"), ("civ", "africa", "KICTANet"))
    outlook = prospects(SIMPLE, electorate, {1: O, 2: A, 3: A})
    # Europe is split one to one: it too can pass only if she changes her vote.
    assert [(b.key, b.electors, b.objecting, b.change) for b in outlook.blocked] == [("gov", 1, (1,), (1,)), ("europe", 2, (1,), (1,))]
    assert outlook.required == () and outlook.reach == ()


def test_a_four_person_ballot_starts_with_one_need_per_elector_not_sixteen_lines():
    electorate = electors(("gov", "europe", "M"), ("civ", "europe", "C"), ("biz", "africa", "B"), ("tech", "africa", "T"))
    outlook = prospects(SIMPLE, electorate, {})
    assert outlook.required == (1, 2, 3, 4)  # each group's only elector must approve; the regions then pass too
    assert outlook.reach == () and outlook.blocked == ()


def test_a_large_group_says_how_many_of_those_yet_to_vote_must_approve():
    electorate = electors(*[("gov", "europe", f"M{n}") for n in range(4)], ("civ", "africa", "C"))
    outlook = prospects(SIMPLE, electorate, {1: O, 5: A})
    assert outlook.required == ()
    assert [(r.key, r.waiting, r.approvals, r.votes) for r in outlook.reach] == [("gov", (2, 3, 4), 2, 2), ("europe", (2, 3, 4), 2, 2)]


def test_nothing_is_needed_once_it_would_adopt_and_a_narrow_electorate_says_why_it_cannot():
    assert prospects(SIMPLE, electors(("gov", "europe", None), ("civ", "africa", None)), {1: A, 2: A}) == Prospects((), (), (), ())
    narrow = prospects(SIMPLE, electors(("gov", "europe", None), ("gov", "africa", None)), {})
    assert narrow.problems and not (narrow.required or narrow.reach or narrow.blocked)


def _completions(waiting: list):
    for choice in itertools.product((None, A, O, X), repeat=len(waiting)):
        yield {voter: position for voter, position in zip(waiting, choice, strict=True) if position is not None}


def _passes_in(outcome: Outcome, dimension, key) -> bool:
    return next(t for t in outcome.tallies if (t.dimension, t.key) == (dimension, key)).passes


def _in_tally(electorate, dimension, key) -> list:
    attribute = "stakeholder_group" if dimension == "group" else "region"
    return [e.id for e in electorate if getattr(e, attribute) == key]


@SOME
@given(ballots(max_size=7))
def test_prospects_ask_only_for_electors_who_exist_and_can_still_do_it(ballot):
    policy, electorate, votes = ballot
    outcome = tally(policy, electorate, votes)
    outlook = prospects(policy, electorate, votes)
    ids = {e.id for e in electorate}
    waiting = {e.id for e in electorate if e.id not in votes}
    assert set(outlook.required) <= waiting and len(set(outlook.required)) == len(outlook.required)
    for need in outlook.reach:
        members = set(_in_tally(electorate, need.dimension, need.key))
        assert set(need.waiting) == members & waiting  # the electors yet to vote in this tally, no more
        assert 0 <= need.approvals <= need.votes <= len(need.waiting)
    for block in outlook.blocked:
        members = set(_in_tally(electorate, block.dimension, block.key))
        assert block.electors == len(members)
        assert set(block.objecting) | set(block.abstaining) | set(block.change) <= members & (ids - waiting)
        assert set(block.change) <= set(block.objecting) | set(block.abstaining)
    # Every failing tally is accounted for exactly once, and nothing is asked of a ballot that would adopt.
    named = [(r.dimension, r.key) for r in outlook.reach] + [(b.dimension, b.key) for b in outlook.blocked]
    assert len(named) == len(set(named))
    if outcome.adopted:
        assert outlook == Prospects((), (), (), ())
    else:
        assert outlook.problems or outlook.required or outlook.reach or outlook.blocked


@SOME
@given(ballots(max_size=6))
def test_cannot_pass_holds_for_every_outcome_of_the_remaining_votes_and_the_named_changes_would_pass(ballot):
    policy, electorate, votes = ballot
    outlook = prospects(policy, electorate, votes)
    for block in outlook.blocked:
        waiting = [e for e in _in_tally(electorate, block.dimension, block.key) if e not in votes]
        for completion in _completions(waiting):
            assert not _passes_in(tally(policy, electorate, {**votes, **completion}), block.dimension, block.key)
        changed = {**votes, **{e: A for e in waiting}, **{e: A for e in block.change}}
        assert _passes_in(tally(policy, electorate, changed), block.dimension, block.key)


@SOME
@given(ballots(max_size=7))
def test_what_is_asked_would_be_enough_and_no_less_would(ballot):
    policy, electorate, votes = ballot
    outlook = prospects(policy, electorate, votes)
    if outlook.problems:
        return
    for need in outlook.reach:
        members = _in_tally(electorate, need.dimension, need.key)
        # The heaviest electors yet to vote (those of the smallest organisations) approve, enough others vote.
        weight = {
            e: F(1, sum(1 for m in electorate if m.id in members and organisation_key(m.organisation) == key))
            if (key := organisation_key(next(x for x in electorate if x.id == e).organisation))
            else F(1)
            for e in need.waiting
        }
        order = sorted(need.waiting, key=lambda e: -weight[e])
        enough = {**votes, **{e: A for e in order[: need.approvals]}, **{e: X for e in order[need.approvals : need.votes]}}
        assert _passes_in(tally(policy, electorate, enough), need.dimension, need.key)
        if need.approvals:
            fewer = {**votes, **{e: A for e in order[: need.approvals - 1]}, **{e: X for e in order[need.approvals - 1 :]}}
            assert not _passes_in(tally(policy, electorate, fewer), need.dimension, need.key)
    for elector in outlook.required:
        # Without this elector's approval (everyone else yet to vote approving), some tally of theirs cannot pass.
        rest = {e.id: A for e in electorate if e.id not in votes and e.id != elector}
        without = tally(policy, electorate, {**votes, **rest, elector: X})
        mine = next(e for e in electorate if e.id == elector)
        assert not _passes_in(without, "group", mine.stakeholder_group) or not _passes_in(without, "region", mine.region)
