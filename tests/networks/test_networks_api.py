"""Founding, reading, listing networks and amending their charters, as a client sees them."""

from __future__ import annotations

import pytest

from tests.fixtures.networks import NETWORK

DEFAULT_GROUPS = ["government", "private_sector", "civil_society", "technical_academic"]


async def test_founding_a_network_makes_the_founder_its_convener_under_the_default_charter(client, affiliated, audit_events):
    founder = await affiliated("government", "NG", name="Amina Bello", organisation="NITDA")
    response = await client.post("/api/v1/networks", json=NETWORK, headers=founder["headers"])

    assert response.status_code == 201
    network = response.json()
    assert network["slug"] == "open-routing-security"
    assert {key: network[key] for key in NETWORK} == NETWORK
    assert network["membership_policy"] == "open"
    assert network["status"] == "forming"
    assert network["member_count"] == 1
    assert network["founded_by"] == founder["id"]
    charter = network["charter"]
    assert charter["version"] == 1
    assert charter["required_groups"] == DEFAULT_GROUPS
    assert charter["min_regions"] == 3
    assert charter["signoff"] == {
        "quorum": "1/2",
        "quorum_value": 0.5,
        "threshold": "1/2",
        "threshold_value": 0.5,
        "min_ballot_hours": 24,
    }

    members = (await client.get(f"/api/v1/networks/{network['slug']}/members")).json()["items"]
    assert [(m["name"], m["role"], m["stakeholder_group"], m["region"], m["organisation"]) for m in members] == [
        ("Amina Bello", "convener", "government", "africa", "NITDA")
    ]
    [founded] = await audit_events(action="network.founded")
    assert founded["target_id"] == network["slug"]
    assert founded["actor"]["id"] == founder["id"]
    assert founded["payload"]["charter"]["required_groups"] == DEFAULT_GROUPS


async def test_founding_needs_an_affiliation(client, sign_up):
    participant = await sign_up()
    response = await client.post("/api/v1/networks", json=NETWORK, headers=participant["headers"])

    assert response.status_code == 403
    assert response.json()["code"] == "affiliation_required"
    assert "PUT /api/v1/me/affiliation" in response.json()["detail"]


async def test_founding_needs_authentication(client):
    assert (await client.post("/api/v1/networks", json=NETWORK)).status_code == 401


async def test_slugs_are_unique_and_url_safe(client, affiliated, found):
    founder = await affiliated("government", "NG")

    first = await found(founder, name="Café Norms: Ünïcode & more!")
    second = await found(founder, name="cafe norms unicode more")
    third = await found(founder, name="Café norms — unicode, more")
    non_latin = await found(founder, name="网络治理")
    numbered = await found(founder, name="Cafe norms unicode more 2")
    symbols_only = await found(founder, name="🌍 ✦ 🌏")

    assert first["slug"] == "cafe-norms-unicode-more"
    assert second["slug"] == "cafe-norms-unicode-more-2"
    assert third["slug"] == "cafe-norms-unicode-more-3"
    assert non_latin["slug"] == "wang-luo-zhi-li"
    assert non_latin["name"] == "网络治理"
    assert numbered["slug"] == "cafe-norms-unicode-more-2-2"
    assert symbols_only["slug"] == "network"


async def test_names_in_every_script_get_readable_latin_addresses(client, affiliated, found):
    founder = await affiliated("government", "NG")

    arabic = await found(founder, name="شبكة الحوكمة الرقمية")
    arabic_again = await found(founder, name="شبكة الحوكمة الرقمية")
    chinese = await found(founder, name="数字治理网络")
    russian = await found(founder, name="Сеть цифрового управления")

    assert arabic["slug"] == "shbk-lhwkm-lrqmy"
    assert arabic_again["slug"] == "shbk-lhwkm-lrqmy-2"
    assert chinese["slug"] == "shu-zi-zhi-li-wang-luo"
    assert russian["slug"] == "set-tsifrovogo-upravleniia"
    for network in (arabic, chinese, russian):
        fetched = await client.get(f"/api/v1/networks/{network['slug']}")
        assert fetched.status_code == 200
        assert fetched.json()["name"] == network["name"]


async def test_a_custom_charter_stores_fractions_exactly(client, affiliated, found):
    founder = await affiliated("government", "NG")
    network = await found(
        founder,
        membership_policy="by_application",
        charter={
            "required_groups": ["civil_society", "government", "intergovernmental"],
            "min_regions": 2,
            "signoff": {"quorum": "2/3", "threshold": 0.75, "min_ballot_hours": 72},
        },
    )

    assert network["membership_policy"] == "by_application"
    assert network["charter"]["required_groups"] == ["government", "civil_society", "intergovernmental"]
    assert network["charter"]["min_regions"] == 2
    assert network["charter"]["signoff"] == {
        "quorum": "2/3",
        "quorum_value": pytest.approx(2 / 3),
        "threshold": "3/4",
        "threshold_value": 0.75,
        "min_ballot_hours": 72,
    }


QUORUMS = [("1/2", "1/2"), ("0.6", "3/5"), (" 3 / 5 ", "3/5"), (1, "1"), (0.1, "1/10"), ("6/10", "3/5"), (".25", "1/4")]


async def test_quorum_accepts_numbers_and_fraction_strings(client, affiliated, found):
    founder = await affiliated("government", "NG")
    for given, stored in QUORUMS:
        network = await found(founder, charter={"signoff": {"quorum": given}})
        assert network["charter"]["signoff"]["quorum"] == stored, given


NARROW_CHARTERS = [
    ({"required_groups": ["government", "civil_society"]}, "charter.required_groups", "At least 3 stakeholder groups"),
    ({"required_groups": ["government", "government", "civil_society"]}, "charter.required_groups", "got 2"),
    ({"required_groups": []}, "charter.required_groups", "At least 3 stakeholder groups"),
    ({"min_regions": 1}, "charter.min_regions", "At least 2 regions"),
    ({"min_regions": 6}, "charter.min_regions", "At most 5 regions"),
    (
        {"required_groups": ["government", "civil_society", "lobby"]},
        "charter.required_groups",
        "Unknown stakeholder groups: lobby (allowed: government, private_sector, civil_society",
    ),
]


async def test_a_charter_that_could_form_too_narrow_a_network_is_422(client, affiliated):
    founder = await affiliated("government", "NG")
    for charter, field, message in NARROW_CHARTERS:
        response = await client.post("/api/v1/networks", json=NETWORK | {"charter": charter}, headers=founder["headers"])

        assert response.status_code == 422, charter
        body = response.json()
        assert body["code"] == "charter_invalid"
        assert any(error["field"] == field and message in error["message"] for error in body["errors"]), body
    assert (await client.get("/api/v1/networks")).json()["items"] == []


BAD_SIGNOFFS = [
    ({"quorum": 0}, "quorum", "more than 0 and at most 1"),
    ({"quorum": "3/2"}, "quorum", "more than 0 and at most 1, got 3/2"),
    ({"quorum": -0.5}, "quorum", "more than 0"),
    ({"threshold": "2/5"}, "threshold", "at least 1/2 and at most 1"),
    ({"threshold": 1.01}, "threshold", "at least 1/2 and at most 1"),
    ({"quorum": "half"}, "quorum", 'fraction such as "1/2"'),
    ({"quorum": "1/0"}, "quorum", "denominator must not be 0"),
    ({"quorum": True}, "quorum", "got a boolean"),
    ({"quorum": None}, "quorum", "got NoneType"),
    ({"quorum": "1e999999999"}, "quorum", 'fraction such as "1/2"'),
    ({"quorum": 1e-300}, "quorum", "denominator of at most"),
    ({"quorum": "1/1234567"}, "quorum", "denominator of at most"),
    ({"min_ballot_hours": 0}, "min_ballot_hours", "greater than or equal to 1"),
    ({"min_ballot_hours": 10**12}, "min_ballot_hours", "less than or equal to"),
    ({"min_ballot_hours": "24"}, "min_ballot_hours", "valid integer"),
    ({"veto": True}, "veto", "Extra inputs"),
]


async def test_signoff_policy_out_of_bounds_is_422_per_field(client, affiliated):
    founder = await affiliated("government", "NG")
    for signoff, field, message in BAD_SIGNOFFS:
        response = await client.post("/api/v1/networks", json=NETWORK | {"charter": {"signoff": signoff}}, headers=founder["headers"])

        assert response.status_code == 422, signoff
        [error] = response.json()["errors"]
        assert error["field"] == f"charter.signoff.{field}", signoff
        assert message in error["message"], (signoff, error)


MALFORMED_NETWORKS = [
    ({"name": "x" * 121}, "name"),
    ({"name": "   "}, "name"),
    ({"name": 123}, "name"),
    ({"issue": ["a list"]}, "issue"),
    ({"aims": "a" * 4001}, "aims"),
    ({"intended_outcome": None}, "intended_outcome"),
    ({"membership_policy": "invite_only"}, "membership_policy"),
    ({"name": "Null\x00byte"}, "name"),
    ({"charter": {"min_regions": "3"}}, "charter.min_regions"),
    ({"charter": {"min_regions": True}}, "charter.min_regions"),
    ({"charter": {"required_groups": "government"}}, "charter.required_groups"),
    ({"status": "active"}, "status"),
]


async def test_malformed_network_is_422_naming_the_field(client, affiliated):
    founder = await affiliated("government", "NG")
    for change, field in MALFORMED_NETWORKS:
        response = await client.post("/api/v1/networks", json=NETWORK | change, headers=founder["headers"])

        assert response.status_code == 422, change
        assert response.json()["code"] == "validation_error"
        assert field in [error["field"] for error in response.json()["errors"]], change


async def test_html_and_sql_are_stored_and_returned_verbatim(client, affiliated, found):
    founder = await affiliated("government", "NG")
    hostile = {
        "name": "<img src=x onerror=alert(1)> Robert'); DROP TABLE networks;--",
        "issue": "<script>document.cookie</script>",
        "aims": "' OR '1'='1",
        "intended_outcome": "%_\\ and 😀 and \u202e",
    }
    network = await found(founder, **hostile)

    assert network["slug"] == "img-src-x-onerror-alert-1-robert-drop-table-networks"
    fetched = (await client.get(f"/api/v1/networks/{network['slug']}")).json()
    assert {key: fetched[key] for key in hostile} == hostile
    found_by_search = (await client.get("/api/v1/networks", params={"q": "' OR '1'='1"})).json()["items"]
    assert [item["slug"] for item in found_by_search] == [network["slug"]]


async def test_get_network_by_slug(client, affiliated, found):
    founder = await affiliated("government", "NG")
    network = await found(founder)

    response = await client.get(f"/api/v1/networks/{network['slug']}")
    assert response.status_code == 200
    assert response.json() == network


async def test_unknown_network_is_404(client, affiliated, found):
    await found(await affiliated("government", "NG"))
    for slug in ("no-such-network", "Open-Routing-Security", "a%00b", "x" * 500, "%27%3B--"):
        for path in ("", "/members", "/formation", "/charters"):
            response = await client.get(f"/api/v1/networks/{slug}{path}")
            assert response.status_code == 404, (slug, path)
            assert response.json()["code"] == "network_not_found"


async def _seed_listing(client, affiliated, found):
    government = await affiliated("government", "NG")
    civil = await affiliated("civil_society", "BR")
    routing = await found(government, name="Routing Security", issue="BGP hijacks", aims="Origin validation")
    ai = await found(government, name="AI Procurement", issue="Opaque public buying", aims="Audit 100% of models")
    await found(civil, name="Data Flows", issue="Cross-border data", aims="Interoperable privacy")
    await client.post(f"/api/v1/networks/{ai['slug']}/join", headers=civil["headers"])
    return routing, ai


async def test_listing_is_newest_first_and_searches_every_word_in_name_issue_and_aims(client, affiliated, found):
    await _seed_listing(client, affiliated, found)

    async def slugs(**params):
        response = await client.get("/api/v1/networks", params=params)
        assert response.status_code == 200, response.text
        return [item["slug"] for item in response.json()["items"]]

    assert await slugs() == ["data-flows", "ai-procurement", "routing-security"]
    assert await slugs(q="routing") == ["routing-security"]
    assert await slugs(q="HIJACK") == ["routing-security"]
    assert await slugs(q="privacy") == ["data-flows"]
    assert await slugs(q="100%") == ["ai-procurement"]
    assert await slugs(q="%") == ["ai-procurement"]
    assert await slugs(q="_") == []
    # Every word, wherever it is, in any order; not the whole phrase.
    assert await slugs(q="privacy data") == ["data-flows"]
    assert await slugs(q="  routing   ORIGIN ") == ["routing-security"]
    assert await slugs(q="privacy routing") == []
    assert await slugs(status="forming") == ["data-flows", "ai-procurement", "routing-security"]
    assert await slugs(status="active") == []


async def test_listing_by_covered_group_and_region(client, affiliated, found):
    await _seed_listing(client, affiliated, found)

    async def slugs(**params):
        response = await client.get("/api/v1/networks", params=params)
        assert response.status_code == 200, response.text
        return [item["slug"] for item in response.json()["items"]]

    assert await slugs(group="civil_society") == ["data-flows", "ai-procurement"]
    assert await slugs(group="government") == ["ai-procurement", "routing-security"]
    assert await slugs(region="latin_america_caribbean") == ["data-flows", "ai-procurement"]
    assert await slugs(group="government", region="latin_america_caribbean") == ["ai-procurement"]
    assert await slugs(group="private_sector") == []
    items = (await client.get("/api/v1/networks", params={"group": "civil_society"})).json()["items"]
    assert [item["member_count"] for item in items] == [1, 2]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group": "lobby"}, "query.group"),
        ({"region": "europe"}, "query.region"),
    ],
)
async def test_listing_by_unknown_group_or_region_is_422_naming_allowed_values(client, params, field):
    response = await client.get("/api/v1/networks", params=params)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert "allowed:" in error["message"]
    assert len(error["allowed"]) == 5


async def test_listing_with_bad_parameters_is_422(client):
    for params in (
        {"status": "dormant"},
        {"q": "x" * 201},
        {"q": "a\x00b"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "not-a-cursor"},
        {"cursor": "WyJub3QgYSBkYXRlIiwieCJd"},
    ):
        response = await client.get("/api/v1/networks", params=params)
        assert response.status_code == 422, (params, response.text)


async def test_listing_pages_with_a_cursor(client, affiliated, found):
    founder = await affiliated("government", "NG")
    created = [(await found(founder, name=f"Network {n}"))["slug"] for n in range(5)]

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/networks", params=params)).json()
        seen += [item["slug"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 2

    assert seen == list(reversed(created))


async def test_conveners_amend_the_charter_as_a_new_version(client, affiliated, found, audit_events):
    founder = await affiliated("government", "NG")
    network = await found(founder)
    slug = network["slug"]

    response = await client.patch(
        f"/api/v1/networks/{slug}/charter",
        json={"min_regions": 2, "signoff": {"threshold": "2/3"}},
        headers=founder["headers"],
    )

    assert response.status_code == 200
    charter = response.json()["charter"]
    assert charter["version"] == 2
    assert charter["min_regions"] == 2
    assert charter["required_groups"] == DEFAULT_GROUPS
    assert charter["signoff"]["threshold"] == "2/3"
    assert charter["signoff"]["quorum"] == "1/2"
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["charter"] == charter

    versions = (await client.get(f"/api/v1/networks/{slug}/charters")).json()
    assert [version["version"] for version in versions] == [2, 1]
    assert versions[1] == network["charter"]

    [amended] = await audit_events(action="network.charter_amended")
    assert amended["target_id"] == slug
    assert amended["actor"]["id"] == founder["id"]
    assert amended["payload"] == {
        "version": 2,
        "changes": {"min_regions": {"from": 3, "to": 2}, "threshold": {"from": "1/2", "to": "2/3"}},
    }


async def test_an_amendment_that_changes_nothing_adds_no_version(client, affiliated, found, audit_events):
    founder = await affiliated("government", "NG")
    network = await found(founder)

    response = await client.patch(
        f"/api/v1/networks/{network['slug']}/charter",
        json={"min_regions": 3, "signoff": {"quorum": 0.5}, "required_groups": list(reversed(DEFAULT_GROUPS))},
        headers=founder["headers"],
    )

    assert response.status_code == 200
    assert response.json()["charter"]["version"] == 1
    assert await audit_events(action="network.charter_amended") == []


async def test_only_conveners_amend_the_charter(client, affiliated, found):
    founder = await affiliated("government", "NG")
    member = await affiliated("civil_society", "BR")
    outsider = await affiliated("private_sector", "DE")
    network = await found(founder)
    await client.post(f"/api/v1/networks/{network['slug']}/join", headers=member["headers"])

    for participant in (member, outsider):
        response = await client.patch(
            f"/api/v1/networks/{network['slug']}/charter", json={"min_regions": 2}, headers=participant["headers"]
        )
        assert response.status_code == 403
        assert response.json()["code"] == "not_convener"
    assert (await client.patch(f"/api/v1/networks/{network['slug']}/charter", json={"min_regions": 2})).status_code == 401
    assert (await client.get(f"/api/v1/networks/{network['slug']}")).json()["charter"]["version"] == 1


async def test_amending_an_unknown_network_is_404(client, affiliated):
    founder = await affiliated("government", "NG")
    response = await client.patch("/api/v1/networks/nowhere/charter", json={"min_regions": 2}, headers=founder["headers"])
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"required_groups": ["government", "civil_society"]}, "required_groups"),
        ({"min_regions": 1}, "min_regions"),
        ({"min_regions": 99}, "min_regions"),
    ],
)
async def test_an_amendment_that_breaks_formation_rules_is_422(client, affiliated, found, patch, field):
    founder = await affiliated("government", "NG")
    network = await found(founder)

    response = await client.patch(f"/api/v1/networks/{network['slug']}/charter", json=patch, headers=founder["headers"])

    assert response.status_code == 422
    assert response.json()["code"] == "charter_invalid"
    assert [error["field"] for error in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"signoff": {"quorum": 0}}, "signoff.quorum"),
        ({"signoff": {"threshold": "1/3"}}, "signoff.threshold"),
        ({"signoff": {"quorum_value": 0.5}}, "signoff.quorum_value"),
        ({"version": 7}, "version"),
    ],
)
async def test_a_malformed_amendment_is_422_naming_the_field(client, affiliated, found, patch, field):
    founder = await affiliated("government", "NG")
    network = await found(founder)

    response = await client.patch(f"/api/v1/networks/{network['slug']}/charter", json=patch, headers=founder["headers"])

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_an_amendment_can_activate_a_network_and_says_why(client, affiliated, found, audit_events):
    founder = await affiliated("government", "NG")
    network = await found(founder)
    slug = network["slug"]
    for group, country in (("civil_society", "BR"), ("intergovernmental", "CH")):
        joiner = await affiliated(group, country)
        assert (await client.post(f"/api/v1/networks/{slug}/join", headers=joiner["headers"])).status_code == 201
    assert (await client.get(f"/api/v1/networks/{slug}/formation")).json()["status"] == "forming"

    response = await client.patch(
        f"/api/v1/networks/{slug}/charter",
        json={"required_groups": ["government", "civil_society", "intergovernmental"]},
        headers=founder["headers"],
    )

    assert response.json()["status"] == "active"
    [activated] = await audit_events(action="network.activated")
    assert activated["payload"]["cause"] == "network.charter_amended"
    assert activated["payload"]["charter_version"] == 2
    assert activated["payload"]["explanation"] == ["All required groups present and 3 of 3 regions: active"]
