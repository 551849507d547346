"""Ballots under verified_only: the electorate is the verified members when it opens, the others are listed with
the reason, and the ballot, its adoption record and the policy say how each elector was verified."""

from __future__ import annotations

from datetime import timedelta

from services.accounts import service as accounts
from services.accounts.models import Role
from services.kit.db import transaction
from tests.fixtures.accounts import enrol_two_factor
from tests.fixtures.norms import COUNCIL


async def test_only_verified_members_vote_and_the_record_says_how_each_was_verified(client, sign_up, app, clock, make_council):
    council = await make_council(rows=[*COUNCIL, ("Eve", "civil_society", "NG", "digital rights  KENYA")])
    amina, bruno, chen, dana, eve = council["members"]
    rita = await sign_up("Rita Registrar")
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(
            session, app.state.password_hashing, email=rita["email"], role=Role.registrar, password=None, display_name=None
        )
    rita = await enrol_two_factor(client, rita, app.state.clock.now())
    for who in (amina, bruno, chen, dana):
        done = await client.post(
            f"/api/v1/participants/{who['id']}/registrar-verification", json={"note": "Delegate list"}, headers=rita["headers"]
        )
        assert done.status_code == 201, done.text
    # The registrar's name as it is when the ballot opens is the one its record keeps.
    renamed = await client.patch("/api/v1/me", json={"display_name": "Rita Okafor"}, headers=rita["headers"])
    assert renamed.status_code == 200, renamed.text

    # Founded before verification (verified_only off); the convener amends the charter, and the page data says so.
    slug = council["slug"]
    before = (await client.get(f"/api/v1/networks/{slug}/formation")).json()
    assert before["verified_only"] is False and "Every member counts" in before["verified_policy"]
    amended = await client.patch(f"/api/v1/networks/{slug}/charter", json={"verified_only": True}, headers=amina["headers"])
    assert amended.status_code == 200, amended.text
    after = (await client.get(f"/api/v1/networks/{slug}/formation")).json()
    assert after["status"] == "active" and after["counted"] == 4 and after["member_count"] == 5

    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=2)).isoformat()},
        headers=amina["headers"],
    )
    assert opened.status_code == 201, opened.text
    ballot = opened.json()
    assert ballot["policy"]["verified_only"] is True
    assert [(item["name"], item["reason"]) for item in ballot["excluded"]] == [("Eve", "affiliation not verified")]
    assert {e["name"]: e["verification"] for e in ballot["electorate"]} == {
        name: "verified by registrar Rita Okafor" for name in ("Amina", "Bruno", "Chen", "Dana")
    }
    eve_votes = await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=eve["headers"])
    assert eve_votes.status_code == 403

    for who in (amina, bruno, chen, dana):
        cast = await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=who["headers"])
        assert cast.status_code == 200, cast.text
    adoption = (await client.get(f"/api/v1/norms/{council['norm']['id']}/adoptions")).json()[0]
    assert adoption["policy"]["verified_only"] is True
    assert {vote["name"]: vote["verification"] for vote in adoption["votes"]} == {
        name: "verified by registrar Rita Okafor" for name in ("Amina", "Bruno", "Chen", "Dana")
    }
