"""The clearing house never takes part: staff and admin accounts cannot found, join, apply, edit, tag, vote or comment.

Each refusal is a 403 with the code `staff_cannot_take_part` and changes nothing, including for an account that was a
member before it became staff.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.accounts import service as accounts
from services.accounts.models import Role
from services.kit.db import transaction
from tests.fixtures.accounts import affiliate
from tests.fixtures.networks import NETWORK


async def _make(app, person: dict, role: Role) -> dict:
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(session, app.state.password_hashing, email=person["email"], role=role, password=None, display_name=None)
    return person


def _refused(response, act: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "staff_cannot_take_part"
    assert act in response.json()["detail"] and "separate expert account" in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.staff, Role.admin])
async def test_staff_and_admins_cannot_found_join_or_apply(client, app, sign_up, network, role):
    clearing_house = await _make(app, await affiliate(client, await sign_up("Clara Curator"), "government", "FR"), role)
    _refused(await client.post("/api/v1/networks", json=NETWORK, headers=clearing_house["headers"]), "found a network")
    _refused(await client.post(f"/api/v1/networks/{network['slug']}/join", headers=clearing_house["headers"]), "join")

    founder = network["members"][0]
    by_application = await client.post(
        "/api/v1/networks", json=NETWORK | {"name": "Closed Circle", "membership_policy": "by_application"}, headers=founder["headers"]
    )
    assert by_application.status_code == 201, by_application.text
    slug = by_application.json()["slug"]
    _refused(
        await client.post(f"/api/v1/networks/{slug}/join", json={"motivation": "I curate"}, headers=clearing_house["headers"]), "apply"
    )
    assert (await client.get(f"/api/v1/networks/{slug}/applications", headers=founder["headers"])).json()["items"] == []
    roster = (await client.get(f"/api/v1/networks/{network['slug']}/members")).json()["items"]
    assert clearing_house["id"] not in {member["participant_id"] for member in roster}


@pytest.mark.parametrize("role", [Role.staff, Role.admin])
async def test_a_member_who_becomes_staff_can_no_longer_edit_tag_or_start_a_norm(client, app, network, norm, role):
    member = await _make(app, network["members"][1], role)
    splice = {"splices": [{"index": 0, "insert": "X"}]}
    edit = await client.post(f"/api/v1/norms/{norm['id']}/edits", json=splice, headers=member["headers"])
    _refused(edit, "edit a norm")
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == norm["text"]
    tag = await client.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "Mine"}, headers=member["headers"])
    _refused(tag, "act in a network")
    start = await client.post(f"/api/v1/networks/{network['slug']}/norms", json={"title": "T", "text": "x"}, headers=member["headers"])
    _refused(start, "act in a network")
    # An ordinary member still edits.
    other = network["members"][2]
    edited = await client.post(f"/api/v1/norms/{norm['id']}/edits", json=splice, headers=other["headers"])
    assert edited.status_code == 200, edited.text


async def test_an_elector_who_becomes_staff_cannot_vote(client, app, council, clock):
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=2)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    ballot = opened.json()
    elector = await _make(app, council["members"][1], Role.staff)
    _refused(await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=elector["headers"]), "vote")
    after = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()
    assert all(vote["participant_id"] != elector["id"] for vote in after["votes"])


async def test_staff_cannot_comment_on_a_consultation_as_an_expert(client, app, sign_up, council, clock):
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Clear?"},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    consultation = opened.json()
    staff = await _make(app, await affiliate(client, await sign_up("Clara Curator"), "government", "FR"), Role.staff)
    comment = await client.post(f"/api/v1/consultations/{consultation['id']}/comments", json={"body": "Fine."}, headers=staff["headers"])
    _refused(comment, "comment")
    assert (await client.get(f"/api/v1/consultations/{consultation['id']}/comments")).json() == []
