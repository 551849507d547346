"""Eight experts found and join a network; the formation rule, not anybody, makes it active."""

from __future__ import annotations

# Default charter: government, private sector, civil society, technical/academic; 3 regions.
EXPERTS = [
    ("Amina Bello", "government", "NG", "africa"),
    ("Jonas Weber", "private_sector", "DE", "western_europe_others"),
    ("Carla Souza", "civil_society", "BR", "latin_america_caribbean"),
    ("Irène Dubois", "intergovernmental", "CH", "western_europe_others"),
    ("Kenji Sato", "government", "JP", "asia_pacific"),
    ("Ola Nowak", "civil_society", "PL", "eastern_europe"),
    ("Priya Nair", "technical_academic", "IN", "asia_pacific"),  # completes the rule
    ("Wanjiru Kamau", "private_sector", "KE", "africa"),
]
COMPLETING = 6


async def test_network_becomes_active_at_the_member_completing_the_rule_and_forming_when_they_leave(
    client, affiliated, found, audit_events
):
    experts = [await affiliated(group, country, name=name) for name, group, country, _ in EXPERTS]
    founder = experts[0]
    network = await found(founder, name="Cross-border Incident Response")
    slug = network["slug"]

    async def formation():
        response = await client.get(f"/api/v1/networks/{slug}/formation")
        assert response.status_code == 200
        return response.json()

    async def transitions():
        return [
            (event["action"], event["actor"]["id"], event["payload"]["cause"])
            for event in await audit_events(target_type="network", target_id=slug)
            if event["action"] in ("network.activated", "network.formation_lost")
        ]

    first = await formation()
    assert first["status"] == "forming"
    assert first["groups_missing"] == ["private_sector", "civil_society", "technical_academic"]
    assert first["regions_needed"] == 2

    for position, expert in enumerate(experts[1:], start=1):
        response = await client.post(f"/api/v1/networks/{slug}/join", headers=expert["headers"])
        assert response.status_code == 201, response.text
        state = await formation()
        expected = "active" if position >= COMPLETING else "forming"
        assert state["status"] == expected, (position, state)
        assert state["member_count"] == position + 1
        assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == expected
        if position == COMPLETING - 1:
            assert state["groups_missing"] == ["technical_academic"]
            assert state["regions_needed"] == 0
            assert state["explanation"] == ["Missing stakeholder group: Technical and academic community"]

    active = await formation()
    assert active["groups_missing"] == []
    assert active["regions_present"] == [
        "africa",
        "asia_pacific",
        "eastern_europe",
        "latin_america_caribbean",
        "western_europe_others",
    ]
    assert active["explanation"] == ["All required groups present and 5 regions (3 needed): active"]
    assert active["matrix"]["government"] == {
        "africa": 1,
        "asia_pacific": 1,
        "eastern_europe": 0,
        "latin_america_caribbean": 0,
        "western_europe_others": 0,
    }
    assert active["matrix"]["technical_academic"]["asia_pacific"] == 1
    assert active["matrix"]["private_sector"]["africa"] == 1
    assert sum(sum(row.values()) for row in active["matrix"].values()) == 8

    completing = experts[COMPLETING]
    assert await transitions() == [("network.activated", completing["id"], "network.joined")]
    listed = (await client.get("/api/v1/networks", params={"status": "active"})).json()["items"]
    assert [item["slug"] for item in listed] == [slug]

    response = await client.post(f"/api/v1/networks/{slug}/leave", headers=completing["headers"])
    assert response.status_code == 204

    after = await formation()
    assert after["status"] == "forming"
    assert after["groups_missing"] == ["technical_academic"]
    assert after["member_count"] == 7
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "forming"
    assert await transitions() == [
        ("network.activated", completing["id"], "network.joined"),
        ("network.formation_lost", completing["id"], "network.left"),
    ]
    [lost] = await audit_events(action="network.formation_lost")
    assert lost["payload"]["groups_missing"] == ["technical_academic"]
    assert lost["payload"]["member_count"] == 7
    assert lost["payload"]["explanation"] == ["Missing stakeholder group: Technical and academic community"]


async def test_an_affiliation_change_of_a_member_changes_the_status_of_their_networks(client, affiliated, found, audit_events):
    experts = [await affiliated(group, country, name=name) for name, group, country, _ in EXPERTS[:COMPLETING]]
    network = await found(experts[0], name="Data Flows")
    other = await found(experts[1], name="Other Network")
    slug = network["slug"]
    for expert in experts[1:]:
        await client.post(f"/api/v1/networks/{slug}/join", headers=expert["headers"])
    assert (await client.get(f"/api/v1/networks/{slug}/formation")).json()["status"] == "forming"

    # Ola moves from civil society in Poland to a university in Poland: civil society stays
    # covered by Carla, and the technical/academic community arrives.
    ola = experts[5]
    response = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "technical_academic", "country": "PL", "organisation": "University of Warsaw"},
        headers=ola["headers"],
    )
    assert response.status_code == 200

    formation = (await client.get(f"/api/v1/networks/{slug}/formation")).json()
    assert formation["status"] == "active"
    members = (await client.get(f"/api/v1/networks/{slug}/members")).json()["items"]
    assert [member["organisation"] for member in members if member["participant_id"] == ola["id"]] == ["University of Warsaw"]
    [activated] = await audit_events(action="network.activated")
    assert (activated["target_id"], activated["actor"]["id"], activated["payload"]["cause"]) == (
        slug,
        ola["id"],
        "affiliation.changed",
    )
    # A network Ola is not in is untouched.
    assert (await client.get(f"/api/v1/networks/{other['slug']}")).json()["status"] == "forming"

    # And back: the only technical/academic member turns private sector, so formation is lost.
    await client.put("/api/v1/me/affiliation", json={"stakeholder_group": "private_sector", "country": "PL"}, headers=ola["headers"])
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "forming"
    [lost] = await audit_events(action="network.formation_lost")
    assert lost["payload"]["cause"] == "affiliation.changed"
    assert lost["payload"]["groups_missing"] == ["technical_academic"]
