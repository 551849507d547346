import csv
import json
from importlib.resources import files

import pytest

from networks.taxonomy import (
    DEFAULT_GROUPS,
    DEFAULT_REGIONS,
    TaxonomyInvalid,
    UnknownCountry,
    default_taxonomy,
    load_taxonomy,
)

# Places with no seat in the UN General Assembly: each must say why it maps where it does.
NON_MEMBERS = set(
    "AQ AS AI AW AX BL BM BQ BV CC CK CW CX EH FK FO GF GG GI GL GP GS GU HK HM IM IO JE "
    "KY MF MO MP MQ MS NC NF NU PF PM PN PR PS RE SH SJ SX TC TF TK TW UM VA VG VI WF YT".split()
)


def shipped_rows():
    table = (files("networks") / "data" / "countries.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(table.splitlines()))


def write_json(tmp_path, document):
    path = tmp_path / "taxonomy.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_shipped_table_lists_249_unique_iso_codes():
    rows = shipped_rows()
    codes = [row["code"] for row in rows]
    assert len(rows) == 249
    assert len(set(codes)) == 249
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in codes)
    assert list(rows[0]) == ["code", "name", "region", "note"]


def test_every_country_has_a_name_and_a_default_region():
    for row in shipped_rows():
        assert row["name"].strip(), row["code"]
        assert row["region"] in DEFAULT_REGIONS, row["code"]


def test_every_non_member_documents_its_mapping():
    notes = {row["code"]: row["note"] for row in shipped_rows()}
    assert len(NON_MEMBERS) == 249 - 193
    for code in NON_MEMBERS:
        assert notes[code].strip(), code


def test_un_regional_groups_have_their_member_counts():
    members = [row for row in shipped_rows() if row["code"] not in NON_MEMBERS]
    sizes = {region: sum(row["region"] == region for row in members) for region in DEFAULT_REGIONS}
    # 29 in WEOG counts the United States, its observer; Kiribati is in Asia-Pacific.
    assert sizes == {
        "africa": 54,
        "asia_pacific": 54,
        "eastern_europe": 23,
        "latin_america_caribbean": 33,
        "western_europe_others": 29,
    }


@pytest.mark.parametrize(
    ("code", "region"),
    [
        ("NG", "africa"),
        ("EG", "africa"),
        ("JP", "asia_pacific"),
        ("CY", "asia_pacific"),
        ("KI", "asia_pacific"),
        ("PS", "asia_pacific"),
        ("HK", "asia_pacific"),
        ("PL", "eastern_europe"),
        ("RU", "eastern_europe"),
        ("BR", "latin_america_caribbean"),
        ("JM", "latin_america_caribbean"),
        ("DE", "western_europe_others"),
        ("US", "western_europe_others"),
        ("IL", "western_europe_others"),
        ("TR", "western_europe_others"),
        ("AU", "western_europe_others"),
        ("GL", "western_europe_others"),
        ("PR", "western_europe_others"),
    ],
)
def test_known_countries_map_to_their_region(code, region):
    assert default_taxonomy().region_of(code) == region


def test_lookup_ignores_letter_case():
    taxonomy = default_taxonomy()
    assert taxonomy.region_of("ng") == taxonomy.region_of("Ng") == "africa"
    assert taxonomy.country("de").name == "Germany"


@pytest.mark.parametrize("code", ["XK", "ZZ", "", "DEU", "ß"])
def test_unknown_country_is_an_error_naming_the_code(code):
    with pytest.raises(UnknownCountry, match="Unknown country code") as raised:
        default_taxonomy().region_of(code)
    assert raised.value.code == code
    assert isinstance(raised.value, ValueError)


def test_default_groups_and_regions_are_ordered_with_labels():
    taxonomy = default_taxonomy()
    assert list(taxonomy.groups) == [
        "government",
        "private_sector",
        "civil_society",
        "technical_academic",
        "intergovernmental",
    ]
    assert taxonomy.groups["technical_academic"] == "Technical and academic community"
    assert taxonomy.regions["latin_america_caribbean"] == "Latin America and the Caribbean"
    assert taxonomy.is_group("civil_society")
    assert not taxonomy.is_group("africa")
    assert taxonomy.is_region("africa")


def test_default_taxonomy_is_loaded_once_and_read_only():
    taxonomy = default_taxonomy()
    assert default_taxonomy() is taxonomy
    with pytest.raises(TypeError):
        taxonomy.groups["lobby"] = "Lobby"


def test_replacement_file_with_region_per_country(tmp_path):
    path = write_json(
        tmp_path,
        {
            "groups": {"state": "State", "market": "Market", "people": "People"},
            "regions": {"north": "North", "south": "South"},
            "countries": {"no": "north", "ZA": "south", "XK": "north"},
        },
    )
    taxonomy = load_taxonomy(path)
    assert list(taxonomy.groups) == ["state", "market", "people"]
    assert taxonomy.region_of("NO") == "north"
    assert taxonomy.region_of("za") == "south"
    # Names come from the shipped table where it knows the code.
    assert taxonomy.country("NO").name == "Norway"
    assert taxonomy.country("XK").name == "XK"
    with pytest.raises(UnknownCountry):
        taxonomy.region_of("DE")


def test_replacement_file_with_country_list(tmp_path):
    path = write_json(
        tmp_path,
        {
            "groups": dict(DEFAULT_GROUPS),
            "regions": {"east": "East", "west": "West"},
            "countries": [
                {"code": "XK", "name": "Kosovo", "region": "east"},
                {"code": "pt", "region": "west"},
            ],
        },
    )
    taxonomy = load_taxonomy(str(path))
    assert taxonomy.country("XK").name == "Kosovo"
    assert taxonomy.country("PT").name == "Portugal"
    assert taxonomy.region_of("xk") == "east"


VALID = {
    "groups": {"a": "A", "b": "B", "c": "C"},
    "regions": {"north": "North", "south": "South"},
    "countries": {"NO": "north", "ZA": "south"},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"countries": {"NO": "north", "ZA": "africa"}}, "countries.ZA: region 'africa' is not a declared region"),
        ({"groups": {"a": "A", "b": "B"}}, "at least 3 stakeholder groups are needed, got 2"),
        ({"regions": {"north": "North"}, "countries": {"NO": "north"}}, "at least 2 regions are needed, got 1"),
        ({"countries": {"NOR": "north"}}, "code 'NOR' is not two letters"),
        ({"countries": {}}, "at least one country is needed"),
        (
            {"countries": [{"code": "NO", "region": "north"}, {"code": "no", "region": "south"}]},
            "countries.NO: listed more than once",
        ),
        ({"countries": [{"code": "NO"}]}, "countries.NO: region must be a region code, got None"),
        ({"countries": "NO"}, "countries: must be an object"),
        ({"groups": ["a", "b", "c"]}, "groups: must be an object"),
        ({"groups": {"a": "A", "b": "B", "Big Tech": "Big tech"}}, "groups.Big Tech: a code must be lowercase"),
        ({"regions": {"north": "", "south": "South"}}, "regions.north: the label must be a non-empty string"),
        ({"region": {}}, "unknown keys region"),
    ],
)
def test_invalid_replacement_is_rejected_with_the_problem(tmp_path, change, message):
    path = write_json(tmp_path, VALID | change)
    with pytest.raises(TaxonomyInvalid) as raised:
        load_taxonomy(path)
    assert str(path) in str(raised.value)
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


def test_every_problem_is_reported_at_once(tmp_path):
    path = write_json(tmp_path, VALID | {"groups": {"a": "A"}, "countries": {"NO": "west", "ZA": "east"}})
    with pytest.raises(TaxonomyInvalid) as raised:
        load_taxonomy(path)
    assert len(raised.value.problems) == 3


def test_replacement_must_be_readable_json(tmp_path):
    with pytest.raises(TaxonomyInvalid, match="cannot be read"):
        load_taxonomy(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"groups": ', encoding="utf-8")
    with pytest.raises(TaxonomyInvalid, match="is not valid JSON"):
        load_taxonomy(broken)
    listing = write_json(tmp_path, ["government"])
    with pytest.raises(TaxonomyInvalid, match="top level must be a JSON object"):
        load_taxonomy(listing)
