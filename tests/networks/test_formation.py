from hypothesis import given
from hypothesis import strategies as st

from networks.formation import (
    Charter,
    FormationStatus,
    RosterEntry,
    default_charter,
    evaluate,
    validate_charter,
)
from networks.taxonomy import default_taxonomy

TAXONOMY = default_taxonomy()
GROUPS = list(TAXONOMY.groups)
REGIONS = list(TAXONOMY.regions)

entries = st.builds(
    RosterEntry,
    participant_id=st.integers(min_value=1, max_value=10_000),
    stakeholder_group=st.one_of(st.none(), st.sampled_from(GROUPS)),
    region=st.one_of(st.none(), st.sampled_from(REGIONS)),
)
rosters = st.lists(entries, max_size=30)
charters = st.builds(
    Charter,
    required_groups=st.frozensets(st.sampled_from(GROUPS), min_size=1),
    min_regions=st.integers(min_value=0, max_value=len(REGIONS) + 1),
)


def member(participant_id, group, region):
    return RosterEntry(participant_id, group, region)


def affiliated(roster):
    return [entry for entry in roster if entry.stakeholder_group and entry.region]


@given(charters, rosters)
def test_active_exactly_when_required_groups_and_enough_regions_are_present(charter, roster):
    counted = affiliated(roster)
    groups = {entry.stakeholder_group for entry in counted}
    regions = {entry.region for entry in counted}
    expected = charter.required_groups <= groups and len(regions) >= charter.min_regions

    formation = evaluate(charter, roster, TAXONOMY)

    assert formation.active == expected
    assert formation.status == ("active" if expected else "forming")
    assert set(formation.groups_missing) == charter.required_groups - groups
    assert set(formation.regions_present) == regions
    assert formation.regions_needed == max(0, charter.min_regions - len(regions))


@given(charters, rosters, entries)
def test_adding_a_member_never_turns_active_into_forming(charter, roster, newcomer):
    if evaluate(charter, roster, TAXONOMY).active:
        assert evaluate(charter, [*roster, newcomer], TAXONOMY).active


@given(charters, rosters, st.data())
def test_removing_the_only_member_of_a_required_group_gives_forming(charter, roster, data):
    group = data.draw(st.sampled_from(sorted(charter.required_groups)))
    only = data.draw(entries.map(lambda entry: RosterEntry(entry.participant_id, group, REGIONS[0])))
    others = [entry for entry in roster if entry.stakeholder_group != group]
    before = [*others, only]

    after = [entry for entry in before if entry is not only]

    assert group not in evaluate(charter, before, TAXONOMY).groups_missing
    formation = evaluate(charter, after, TAXONOMY)
    assert formation.status == FormationStatus.FORMING
    assert group in formation.groups_missing


@given(charters, rosters)
def test_matrix_covers_every_group_and_region_and_counts_affiliated_members(charter, roster):
    matrix = evaluate(charter, roster, TAXONOMY).matrix

    assert list(matrix) == GROUPS
    assert all(list(row) == REGIONS for row in matrix.values())
    assert sum(sum(row.values()) for row in matrix.values()) == len(affiliated(roster))


def test_empty_roster_is_forming_and_says_what_is_missing():
    formation = evaluate(default_charter(TAXONOMY), [], TAXONOMY)

    assert formation.status == "forming"
    assert formation.groups_present == ()
    assert formation.groups_missing == ("government", "private_sector", "civil_society", "technical_academic")
    assert formation.regions_needed == 3
    assert formation.explanation == (
        "Missing stakeholder groups: Government, Private sector, Civil society, Technical and academic community",
        "Needs members from 3 more regions (has 0 of 3)",
    )


def test_network_with_every_required_group_across_three_regions_is_active():
    roster = [
        member(1, "government", "africa"),
        member(2, "private_sector", "asia_pacific"),
        member(3, "civil_society", "latin_america_caribbean"),
        member(4, "technical_academic", "africa"),
    ]
    formation = evaluate(default_charter(TAXONOMY), roster, TAXONOMY)

    assert formation.status == "active"
    assert formation.groups_missing == ()
    assert formation.regions_present == ("africa", "asia_pacific", "latin_america_caribbean")
    assert formation.matrix["government"]["africa"] == 1
    assert formation.matrix["technical_academic"]["africa"] == 1
    assert formation.matrix["intergovernmental"]["eastern_europe"] == 0
    assert formation.explanation == ("All required groups present and 3 of 3 regions: active",)


def test_network_lacking_a_region_and_a_group_explains_both():
    roster = [
        member(1, "government", "africa"),
        member(2, "private_sector", "eastern_europe"),
        member(3, "technical_academic", "africa"),
        member(4, None, None),
    ]
    formation = evaluate(default_charter(TAXONOMY), roster, TAXONOMY)

    assert formation.status == "forming"
    assert formation.groups_present == ("government", "private_sector", "technical_academic")
    assert formation.explanation == (
        "Missing stakeholder group: Civil society",
        "Needs members from 1 more region (has 2 of 3)",
    )


def test_members_without_a_known_group_and_region_count_for_nothing():
    charter = Charter(frozenset({"government", "private_sector", "civil_society"}), 2)
    roster = [
        member(1, "government", "africa"),
        member(2, "private_sector", "africa"),
        member(3, "civil_society", None),
        member(4, None, "asia_pacific"),
        member(5, "lobby", "asia_pacific"),
        member(6, "civil_society", "atlantis"),
    ]
    formation = evaluate(charter, roster, TAXONOMY)

    assert formation.groups_missing == ("civil_society",)
    assert formation.regions_present == ("africa",)
    assert sum(sum(row.values()) for row in formation.matrix.values()) == 2


def test_any_object_with_the_formation_terms_is_a_charter():
    class NetworkCharter:
        required_groups = ["government", "private_sector", "civil_society"]
        min_regions = 2
        signoff_quorum = 0.5

    roster = [
        member(1, "government", "africa"),
        member(2, "private_sector", "africa"),
        member(3, "civil_society", "eastern_europe"),
    ]
    assert evaluate(NetworkCharter(), roster, TAXONOMY).active


def test_default_charter_requires_all_but_intergovernmental_and_three_regions():
    charter = default_charter(TAXONOMY)

    assert charter.required_groups == {"government", "private_sector", "civil_society", "technical_academic"}
    assert charter.min_regions == 3
    assert validate_charter(charter.required_groups, charter.min_regions, TAXONOMY) == []


def test_validate_charter_accepts_the_bounds():
    assert validate_charter(set(GROUPS), len(REGIONS), TAXONOMY) == []
    assert validate_charter({"government", "private_sector", "civil_society"}, 2, TAXONOMY) == []


def test_validate_charter_reports_each_problem_by_field():
    assert validate_charter({"government", "lobby"}, 1, TAXONOMY) == [
        ("required_groups", "Unknown stakeholder groups: lobby"),
        ("required_groups", "At least 3 stakeholder groups must be required, got 2"),
        ("min_regions", "At least 2 regions must be required, got 1"),
    ]
    assert validate_charter(set(GROUPS), 6, TAXONOMY) == [
        ("min_regions", "At most 5 regions can be required (the taxonomy has 5), got 6"),
    ]
    assert validate_charter(set(GROUPS), True, TAXONOMY) == [("min_regions", "Must be a whole number, got True")]
