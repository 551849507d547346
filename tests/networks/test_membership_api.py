"""Joining, applying, deciding, leaving and appointing conveners, as a client sees them."""

from __future__ import annotations

import asyncio
import uuid

import pytest


async def test_joining_an_open_network_makes_a_member_at_once(client, affiliated, found, audit_events):
    founder = await affiliated("government", "NG", name="Amina")
    joiner = await affiliated("civil_society", "BR", name="Carlos", organisation="Nupef")
    network = await found(founder)
    slug = network["slug"]

    response = await client.post(f"/api/v1/networks/{slug}/join", headers=joiner["headers"])

    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "member"
    assert body["application"] is None
    assert body["member"] | {"joined_at": None} == {
        "participant_id": joiner["id"],
        "name": "Carlos",
        "stakeholder_group": "civil_society",
        "region": "latin_america_caribbean",
        "organisation": "Nupef",
        "role": "member",
        "joined_at": None,
        "verification": None,
    }
    roster = (await client.get(f"/api/v1/networks/{slug}/members")).json()["items"]
    assert [(member["name"], member["role"]) for member in roster] == [("Amina", "convener"), ("Carlos", "member")]
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["member_count"] == 2

    [joined] = await audit_events(action="network.joined")
    assert joined["target_id"] == slug
    assert joined["actor"]["id"] == joiner["id"]
    assert joined["payload"] == {
        "participant_id": joiner["id"],
        "stakeholder_group": "civil_society",
        "region": "latin_america_caribbean",
        "organisation": "Nupef",
    }


async def test_the_roster_is_public_and_shows_no_private_details(client, affiliated, found):
    founder = await affiliated("government", "NG", organisation="NITDA")
    network = await found(founder)

    response = await client.get(f"/api/v1/networks/{network['slug']}/members")

    assert response.status_code == 200
    [member] = response.json()["items"]
    assert set(member) == {"participant_id", "name", "stakeholder_group", "region", "organisation", "role", "joined_at", "verification"}
    assert member["verification"]["words"] == "unverified"
    assert founder["email"] not in response.text
    assert "NG" not in response.text


async def test_the_roster_pages_with_a_cursor(client, affiliated, found):
    founder = await affiliated("government", "NG")
    network = await found(founder)
    joiners = [await affiliated("civil_society", "BR", name=f"Member {n}") for n in range(4)]
    for joiner in joiners:
        await client.post(f"/api/v1/networks/{network['slug']}/join", headers=joiner["headers"])

    names, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/api/v1/networks/{network['slug']}/members", params=params)).json()
        names += [member["name"] for member in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert names == [founder["name"]] + [f"Member {n}" for n in range(4)]


async def test_joining_without_an_affiliation_is_409_saying_how_to_set_one(client, affiliated, found, sign_up):
    network = await found(await affiliated("government", "NG"))
    newcomer = await sign_up()

    response = await client.post(f"/api/v1/networks/{network['slug']}/join", headers=newcomer["headers"])

    assert response.status_code == 403
    assert response.json()["code"] == "affiliation_required"
    assert "PUT /api/v1/me/affiliation" in response.json()["detail"]
    assert "stakeholder_group, country" in response.json()["detail"]


async def test_joining_twice_is_409(client, affiliated, found):
    founder = await affiliated("government", "NG")
    joiner = await affiliated("civil_society", "BR")
    network = await found(founder)
    await client.post(f"/api/v1/networks/{network['slug']}/join", headers=joiner["headers"])

    for participant in (joiner, founder):
        response = await client.post(f"/api/v1/networks/{network['slug']}/join", headers=participant["headers"])
        assert response.status_code == 409
        assert response.json()["code"] == "already_member"
    assert (await client.get(f"/api/v1/networks/{network['slug']}")).json()["member_count"] == 2


async def test_joining_an_unknown_network_is_404(client, affiliated):
    joiner = await affiliated("civil_society", "BR")
    response = await client.post("/api/v1/networks/nowhere/join", headers=joiner["headers"])
    assert response.status_code == 404
    assert response.json()["code"] == "network_not_found"


async def test_joining_needs_authentication(client, affiliated, found):
    network = await found(await affiliated("government", "NG"))
    assert (await client.post(f"/api/v1/networks/{network['slug']}/join")).status_code == 401


@pytest.mark.parametrize("body", [{"motivation": "m" * 4001}, {"motivation": 42}, {"motivation": "a\x00b"}, {"role": "convener"}])
async def test_a_malformed_join_is_422(client, affiliated, found, body):
    network = await found(await affiliated("government", "NG"), membership_policy="by_application")
    joiner = await affiliated("civil_society", "BR")
    response = await client.post(f"/api/v1/networks/{network['slug']}/join", json=body, headers=joiner["headers"])
    assert response.status_code == 422


async def _application_network(client, affiliated, found):
    convener = await affiliated("government", "NG", name="Convener")
    applicant = await affiliated("civil_society", "BR", name="Applicant", organisation="Nupef")
    network = await found(convener, membership_policy="by_application")
    return convener, applicant, network["slug"]


async def test_applying_to_a_network_by_application(client, affiliated, found, audit_events):
    convener, applicant, slug = await _application_network(client, affiliated, found)
    motivation = "I run <b>route</b> filtering at an IXP; '; DROP TABLE memberships;--"

    response = await client.post(f"/api/v1/networks/{slug}/join", json={"motivation": motivation}, headers=applicant["headers"])

    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "pending"
    assert body["member"] is None
    application = body["application"]
    assert application["status"] == "pending"
    assert application["motivation"] == motivation
    assert application["participant_id"] == applicant["id"]
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["member_count"] == 1

    listing = await client.get(f"/api/v1/networks/{slug}/applications", headers=convener["headers"])
    assert listing.status_code == 200
    [listed] = listing.json()["items"]
    assert listed == application
    assert (listed["name"], listed["stakeholder_group"], listed["region"], listed["organisation"]) == (
        "Applicant",
        "civil_society",
        "latin_america_caribbean",
        "Nupef",
    )

    [applied] = await audit_events(action="network.applied")
    assert applied["payload"] == {"application_id": application["id"], "participant_id": applicant["id"]}
    assert motivation not in str(applied)


async def test_applying_with_no_body_or_motivation(client, affiliated, found):
    _, applicant, slug = await _application_network(client, affiliated, found)
    response = await client.post(f"/api/v1/networks/{slug}/join", headers=applicant["headers"])
    assert response.status_code == 201
    assert response.json()["application"]["motivation"] == ""


async def test_applying_twice_while_pending_is_409(client, affiliated, found):
    _, applicant, slug = await _application_network(client, affiliated, found)
    first = await client.post(f"/api/v1/networks/{slug}/join", json={"motivation": "please"}, headers=applicant["headers"])

    again = await client.post(f"/api/v1/networks/{slug}/join", json={"motivation": "again"}, headers=applicant["headers"])

    assert again.status_code == 409
    assert again.json()["code"] == "application_pending"
    assert again.json()["application_id"] == first.json()["application"]["id"]


async def test_approving_an_application_makes_a_member(client, affiliated, found, audit_events):
    convener, applicant, slug = await _application_network(client, affiliated, found)
    applied = await client.post(f"/api/v1/networks/{slug}/join", json={"motivation": "please"}, headers=applicant["headers"])
    application_id = applied.json()["application"]["id"]

    response = await client.post(
        f"/api/v1/networks/{slug}/applications/{application_id}/approve",
        json={"note": "Welcome"},
        headers=convener["headers"],
    )

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert response.json()["decision_note"] == "Welcome"
    assert response.json()["decided_at"] is not None
    roster = (await client.get(f"/api/v1/networks/{slug}/members")).json()["items"]
    assert [(member["name"], member["role"]) for member in roster] == [("Convener", "convener"), ("Applicant", "member")]
    assert (await client.get(f"/api/v1/networks/{slug}/applications", headers=convener["headers"])).json()["items"] == []
    decided = await client.get(f"/api/v1/networks/{slug}/applications", params={"status": "approved"}, headers=convener["headers"])
    assert [item["id"] for item in decided.json()["items"]] == [application_id]

    [approved] = await audit_events(action="network.application_approved")
    assert approved["actor"]["id"] == convener["id"]
    assert approved["payload"]["participant_id"] == applicant["id"]
    assert approved["payload"]["stakeholder_group"] == "civil_society"

    again = await client.post(f"/api/v1/networks/{slug}/join", headers=applicant["headers"])
    assert again.status_code == 409
    assert again.json()["code"] == "already_member"


async def test_declining_an_application(client, affiliated, found, audit_events):
    convener, applicant, slug = await _application_network(client, affiliated, found)
    applied = await client.post(f"/api/v1/networks/{slug}/join", headers=applicant["headers"])
    application_id = applied.json()["application"]["id"]

    response = await client.post(f"/api/v1/networks/{slug}/applications/{application_id}/decline", headers=convener["headers"])

    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["member_count"] == 1
    [declined] = await audit_events(action="network.application_declined")
    assert declined["payload"] == {"application_id": application_id, "participant_id": applicant["id"]}

    # A declined applicant may apply again.
    again = await client.post(f"/api/v1/networks/{slug}/join", headers=applicant["headers"])
    assert again.status_code == 201
    assert again.json()["application"]["id"] != application_id


async def test_a_decided_application_cannot_be_decided_again(client, affiliated, found):
    convener, applicant, slug = await _application_network(client, affiliated, found)
    applied = await client.post(f"/api/v1/networks/{slug}/join", headers=applicant["headers"])
    path = f"/api/v1/networks/{slug}/applications/{applied.json()['application']['id']}"
    await client.post(f"{path}/decline", headers=convener["headers"])

    for decision in ("approve", "decline"):
        response = await client.post(f"{path}/{decision}", headers=convener["headers"])
        assert response.status_code == 409
        assert response.json()["code"] == "application_decided"
        assert "already declined" in response.json()["detail"]


async def test_only_conveners_see_and_decide_applications(client, affiliated, found):
    _, applicant, slug = await _application_network(client, affiliated, found)
    applied = await client.post(f"/api/v1/networks/{slug}/join", headers=applicant["headers"])
    path = f"/api/v1/networks/{slug}/applications/{applied.json()['application']['id']}"
    outsider = await affiliated("private_sector", "DE")

    for participant in (applicant, outsider):
        for method, url in (("GET", f"/api/v1/networks/{slug}/applications"), ("POST", f"{path}/approve"), ("POST", f"{path}/decline")):
            response = await client.request(method, url, headers=participant["headers"])
            assert response.status_code == 403, url
            assert response.json()["code"] == "not_convener"
    assert (await client.get(f"/api/v1/networks/{slug}/applications")).status_code == 401


async def test_unknown_application_is_404(client, affiliated, found):
    convener, applicant, slug = await _application_network(client, affiliated, found)
    elsewhere = await found(await affiliated("private_sector", "DE"), name="Elsewhere", membership_policy="by_application")
    applied = await client.post(f"/api/v1/networks/{elsewhere['slug']}/join", headers=applicant["headers"])
    foreign_id = applied.json()["application"]["id"]

    for application_id in (str(uuid.uuid4()), foreign_id):
        response = await client.post(f"/api/v1/networks/{slug}/applications/{application_id}/approve", headers=convener["headers"])
        assert response.status_code == 404
        assert response.json()["code"] == "application_not_found"
    malformed = await client.post(f"/api/v1/networks/{slug}/applications/not-a-uuid/approve", headers=convener["headers"])
    assert malformed.status_code == 422


async def test_deciding_in_an_unknown_network_is_404(client, affiliated):
    convener = await affiliated("government", "NG")
    response = await client.post(f"/api/v1/networks/nowhere/applications/{uuid.uuid4()}/approve", headers=convener["headers"])
    assert response.status_code == 404
    assert response.json()["code"] == "network_not_found"


async def test_leaving_a_network(client, affiliated, found, audit_events):
    founder = await affiliated("government", "NG")
    member = await affiliated("civil_society", "BR")
    network = await found(founder)
    slug = network["slug"]
    await client.post(f"/api/v1/networks/{slug}/join", headers=member["headers"])

    response = await client.post(f"/api/v1/networks/{slug}/leave", headers=member["headers"])

    assert response.status_code == 204
    roster = (await client.get(f"/api/v1/networks/{slug}/members")).json()["items"]
    assert [entry["participant_id"] for entry in roster] == [founder["id"]]
    [left] = await audit_events(action="network.left")
    assert left["payload"] == {"participant_id": member["id"], "role": "member"}

    again = await client.post(f"/api/v1/networks/{slug}/leave", headers=member["headers"])
    assert again.status_code == 403
    assert again.json()["code"] == "not_a_member"
    # Leaving is not forever.
    assert (await client.post(f"/api/v1/networks/{slug}/join", headers=member["headers"])).status_code == 201


async def test_leaving_an_unknown_network_is_404(client, affiliated):
    member = await affiliated("civil_society", "BR")
    assert (await client.post("/api/v1/networks/nowhere/leave", headers=member["headers"])).status_code == 404


async def test_the_last_convener_cannot_leave_without_appointing_another(client, affiliated, found):
    founder = await affiliated("government", "NG")
    member = await affiliated("civil_society", "BR")
    network = await found(founder)
    slug = network["slug"]

    alone = await client.post(f"/api/v1/networks/{slug}/leave", headers=founder["headers"])
    assert alone.status_code == 409
    assert alone.json()["code"] == "last_convener"
    assert "only member" in alone.json()["detail"]

    await client.post(f"/api/v1/networks/{slug}/join", headers=member["headers"])
    response = await client.post(f"/api/v1/networks/{slug}/leave", headers=founder["headers"])
    assert response.status_code == 409
    assert response.json()["code"] == "last_convener"
    assert f"POST /api/v1/networks/{slug}/conveners" in response.json()["detail"]

    appointed = await client.post(f"/api/v1/networks/{slug}/conveners", json={"participant_id": member["id"]}, headers=founder["headers"])
    assert appointed.status_code == 200
    assert (await client.post(f"/api/v1/networks/{slug}/leave", headers=founder["headers"])).status_code == 204
    roster = (await client.get(f"/api/v1/networks/{slug}/members")).json()["items"]
    assert [(entry["participant_id"], entry["role"]) for entry in roster] == [(member["id"], "convener")]


async def test_conveners_appoint_members_as_conveners(client, affiliated, found, audit_events):
    founder = await affiliated("government", "NG")
    member = await affiliated("civil_society", "BR", name="Carlos")
    network = await found(founder)
    slug = network["slug"]
    await client.post(f"/api/v1/networks/{slug}/join", headers=member["headers"])

    response = await client.post(f"/api/v1/networks/{slug}/conveners", json={"participant_id": member["id"]}, headers=founder["headers"])

    assert response.status_code == 200
    assert response.json()["name"] == "Carlos"
    assert response.json()["role"] == "convener"
    [appointed] = await audit_events(action="network.convener_appointed")
    assert appointed["actor"]["id"] == founder["id"]
    assert appointed["payload"] == {"participant_id": member["id"]}
    # The new convener can act as one.
    amended = await client.patch(f"/api/v1/networks/{slug}/charter", json={"min_regions": 2}, headers=member["headers"])
    assert amended.status_code == 200

    again = await client.post(f"/api/v1/networks/{slug}/conveners", json={"participant_id": member["id"]}, headers=founder["headers"])
    assert again.status_code == 409
    assert again.json()["code"] == "already_convener"


async def test_only_conveners_appoint_and_only_members_can_be_appointed(client, affiliated, found):
    founder = await affiliated("government", "NG")
    member = await affiliated("civil_society", "BR")
    outsider = await affiliated("private_sector", "DE")
    network = await found(founder)
    slug = network["slug"]
    await client.post(f"/api/v1/networks/{slug}/join", headers=member["headers"])

    by_member = await client.post(f"/api/v1/networks/{slug}/conveners", json={"participant_id": member["id"]}, headers=member["headers"])
    assert by_member.status_code == 403
    assert by_member.json()["code"] == "not_convener"

    for target in (outsider["id"], str(uuid.uuid4())):
        response = await client.post(f"/api/v1/networks/{slug}/conveners", json={"participant_id": target}, headers=founder["headers"])
        assert response.status_code == 409
        assert response.json()["code"] == "appointee_not_a_member"

    for body in ({"participant_id": "not-a-uuid"}, {"participant_id": 5}, {}):
        response = await client.post(f"/api/v1/networks/{slug}/conveners", json=body, headers=founder["headers"])
        assert response.status_code == 422
    unknown = await client.post("/api/v1/networks/nowhere/conveners", json={"participant_id": member["id"]}, headers=founder["headers"])
    assert unknown.status_code == 404


async def test_two_conveners_leaving_at_once_leave_one_behind(client, affiliated, found):
    founder = await affiliated("government", "NG")
    second = await affiliated("civil_society", "BR")
    network = await found(founder)
    slug = network["slug"]
    await client.post(f"/api/v1/networks/{slug}/join", headers=second["headers"])
    await client.post(f"/api/v1/networks/{slug}/conveners", json={"participant_id": second["id"]}, headers=founder["headers"])

    responses = await asyncio.gather(
        *(client.post(f"/api/v1/networks/{slug}/leave", headers=participant["headers"]) for participant in (founder, second))
    )

    assert sorted(response.status_code for response in responses) == [204, 409]
    roster = (await client.get(f"/api/v1/networks/{slug}/members")).json()["items"]
    assert [entry["role"] for entry in roster] == ["convener"]


async def test_concurrent_joins_complete_the_network_once(client, affiliated, found, audit_events):
    founder = await affiliated("government", "NG")
    network = await found(founder, charter={"min_regions": 2})
    slug = network["slug"]
    joiners = [
        await affiliated(group, country)
        for group, country in (
            ("private_sector", "DE"),
            ("civil_society", "BR"),
            ("technical_academic", "IN"),
            ("intergovernmental", "CH"),
            ("civil_society", "KE"),
            ("private_sector", "JP"),
        )
    ]

    responses = await asyncio.gather(*(client.post(f"/api/v1/networks/{slug}/join", headers=joiner["headers"]) for joiner in joiners))

    assert [response.status_code for response in responses] == [201] * len(joiners)
    formation = (await client.get(f"/api/v1/networks/{slug}/formation")).json()
    assert formation["status"] == "active"
    assert formation["member_count"] == 7
    assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "active"
    assert [event["action"] for event in await audit_events(target_id=slug) if event["action"].startswith("network.")].count(
        "network.activated"
    ) == 1
