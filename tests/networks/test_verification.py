"""The verification rule (networks/verification.py): worked examples beside hypothesis properties."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from networks.formation import Charter, RosterEntry, evaluate
from networks.taxonomy import default_taxonomy
from networks.verification import Candidate, Evidence, Method, Vouch, describe, verify
from norms import signoff

ROOT = Evidence(Method.domain, domain="anatel.gov.br")
GROUPS = ("government", "private_sector", "civil_society", "technical_academic")


def person(name: str, group: str = "civil_society", organisation: str | None = None) -> Candidate:
    return Candidate(name, f"aff-{name}", group, organisation)


def test_two_verified_colleagues_of_other_organisations_verify_an_independent_expert():
    people = [person("ana", organisation="nupef"), person("bia", organisation="idec"), person("eva")]
    vouches = [Vouch("ana", "aff-eva"), Vouch("bia", "aff-eva")]
    verified = verify(people, {"ana": ROOT, "bia": ROOT}, vouches, needed=2)
    assert verified["eva"] == Evidence(Method.vouching, by=("ana", "bia"))
    assert describe(verified["eva"], {"ana": "Ana", "bia": "Bia"}) == "vouched by Ana and Bia"
    assert describe(verified["ana"]) == "verified by domain anatel.gov.br"
    assert describe(None) == "unverified"


def test_vouches_that_cannot_count_verify_no_one():
    people = [
        person("ana", organisation="nupef"),
        person("ana2", organisation="nupef"),
        person("gov", group="government", organisation="anatel"),
        person("cand", organisation="nupef"),
        person("free"),
    ]
    roots = {"ana": ROOT, "ana2": ROOT, "gov": ROOT}
    # Same organisation as the candidate; another group; two vouchers of one organisation count once.
    assert "cand" not in verify(people, roots, [Vouch("ana", "aff-cand"), Vouch("gov", "aff-cand")], needed=1)
    assert "free" not in verify(people, roots, [Vouch("ana", "aff-free"), Vouch("ana2", "aff-free")], needed=2)
    assert "free" in verify(people, roots, [Vouch("ana", "aff-free"), Vouch("ana2", "aff-free")], needed=1)


def test_a_ring_of_accounts_vouching_for_one_another_verifies_none_of_them():
    ring = [person(f"p{i}") for i in range(4)]
    vouches = [Vouch(f"p{i}", f"aff-p{j}") for i in range(4) for j in range(4) if i != j]
    assert verify(ring, {}, vouches, needed=2) == {}


def test_a_chain_rooted_in_a_domain_verifies_down_the_chain_and_a_revocation_breaks_it():
    people = [person("a", organisation="o1"), person("b", organisation="o2"), person("c"), person("d"), person("e")]
    vouches = [Vouch("a", "aff-c"), Vouch("b", "aff-c"), Vouch("c", "aff-d"), Vouch("a", "aff-d"), Vouch("c", "aff-e"), Vouch("d", "aff-e")]
    roots = {"a": ROOT, "b": Evidence(Method.registrar, by=("r",), note="accreditation list")}
    assert set(verify(people, roots, vouches, needed=2)) == {"a", "b", "c", "d", "e"}
    assert set(verify(people, roots, vouches, needed=2, revoked={"c"})) == {"a", "b"}


# Properties

names = st.sampled_from([f"p{i}" for i in range(8)])


@st.composite
def worlds(draw):
    people = [
        Candidate(f"p{i}", f"aff-p{i}", draw(st.sampled_from(GROUPS[:2])), draw(st.sampled_from([None, "o1", "o2", "o3"])))
        for i in range(8)
    ]
    roots = {name: ROOT for name in draw(st.sets(names, max_size=3))}
    vouches = draw(st.lists(st.tuples(names, names), max_size=30, unique=True))
    return people, roots, [Vouch(voucher, f"aff-{candidate}") for voucher, candidate in vouches]


@settings(max_examples=150, deadline=None)
@given(worlds(), st.data(), st.integers(min_value=1, max_value=3))
def test_withdrawing_a_vouch_never_makes_anyone_more_verified(world, data, needed):
    people, roots, vouches = world
    before = set(verify(people, roots, vouches, needed))
    if vouches:
        gone = data.draw(st.sampled_from(vouches))
        vouches = [vouch for vouch in vouches if vouch != gone]
    assert set(verify(people, roots, vouches, needed)) <= before


@settings(max_examples=150, deadline=None)
@given(worlds(), st.integers(min_value=1, max_value=3))
def test_without_roots_no_one_is_verified_however_they_vouch(world, needed):
    people, _roots, vouches = world
    assert verify(people, {}, vouches, needed) == {}


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=25),
    st.lists(st.tuples(st.sampled_from(GROUPS), st.sampled_from(["BR", "DE", "KE", "JP", "PL"])), min_size=1, max_size=25),
)
def test_one_person_with_many_accounts_and_no_vouches_cannot_make_a_network_active_or_adopt(accounts, claims):
    """Sock puppets: accounts of one person (one mailbox, no vouches, no verified domain) claiming any affiliations."""
    taxonomy = default_taxonomy()
    puppets = [Candidate(f"acct{i}", f"aff-{i}", claims[i % len(claims)][0], None) for i in range(accounts)]
    # They may vouch for one another as much as they like.
    vouches = [Vouch(a.participant, b.affiliation) for a in puppets for b in puppets if a is not b]
    verified = verify(puppets, {}, vouches, needed=2)
    countries = {
        "BR": "latin_america_caribbean",
        "DE": "western_europe_others",
        "KE": "africa",
        "JP": "asia_pacific",
        "PL": "eastern_europe",
    }
    roster = [
        RosterEntry(p.participant, p.stakeholder_group, countries[claims[i % len(claims)][1]])
        for i, p in enumerate(puppets)
        if p.participant in verified
    ]
    charter = Charter(required_groups=frozenset(GROUPS[:3]), min_regions=3)
    assert not evaluate(charter, roster, taxonomy).active
    electorate = [signoff.Elector(entry.participant_id, entry.stakeholder_group, entry.region) for entry in roster]
    outcome = signoff.tally(signoff.Policy(), electorate, {elector.id: "approve" for elector in electorate})
    assert not outcome.adopted


spellings = st.sampled_from(["Anatel", "ANATEL", " anatel ", "Anatel.", "ANATEL!"])


@settings(max_examples=100, deadline=None)
@given(st.lists(spellings, min_size=1, max_size=12), st.integers(min_value=1, max_value=4))
def test_an_organisation_weighs_at_most_one_however_its_members_spell_it(names_typed, others):
    """Ballots weigh organisation records: every spelling resolves to the one record by its normalised name."""
    from networks.organisations import name_key

    records = {name_key(name) for name in names_typed}
    assert len(records) == 1
    record = records.pop()
    electorate = [signoff.Elector(f"a{i}", "government", "africa", record) for i in range(len(names_typed))]
    electorate += [signoff.Elector(f"b{i}", "government", "africa", None) for i in range(others)]
    electorate += [signoff.Elector("x", "civil_society", "asia_pacific", None)]
    votes = {elector.id: "approve" for elector in electorate if elector.organisation == record}
    outcome = signoff.tally(signoff.Policy(), electorate, votes)
    government = next(t for t in outcome.groups if t.key == "government")
    assert government.approvals == Fraction(1)
