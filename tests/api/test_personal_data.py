"""One's own data: the JSON download, and deleting the account while the public record stays whole."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.cli import run_cogov
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.clearinghouse import LOOPBACK_SUBSCRIBERS

SETTINGS = LOOPBACK_SUBSCRIBERS


async def _vote_and_comment(client, council, clock, person) -> tuple[dict, dict]:
    """`person` approves a ballot on the council's norm and comments on its consultation; (ballot, consultation)."""
    norm_id = council["norm"]["id"]
    convener = council["convener"]["headers"]
    ballot = await client.post(
        f"/api/v1/norms/{norm_id}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=2)).isoformat()},
        headers=convener,
    )
    assert ballot.status_code == 201, ballot.text
    voted = await client.put(f"/api/v1/ballots/{ballot.json()['id']}/vote", json={"position": "approve"}, headers=person["headers"])
    assert voted.status_code == 200, voted.text
    consultation = await client.post(
        f"/api/v1/norms/{norm_id}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Clear enough?"},
        headers=convener,
    )
    assert consultation.status_code == 201, consultation.text
    commented = await client.post(
        f"/api/v1/consultations/{consultation.json()['id']}/comments", json={"body": "Define ranking criteria."}, headers=person["headers"]
    )
    assert commented.status_code == 201, commented.text
    return ballot.json(), consultation.json()


async def test_the_download_holds_account_affiliations_memberships_votes_and_comments_and_no_secret(client, council, clock):
    bruno = council["members"][1]
    ballot, consultation = await _vote_and_comment(client, council, clock, bruno)
    answer = await client.get("/api/v1/me/export", headers=bruno["headers"])
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="cogov-my-data.json"'
    data = answer.json()
    assert data["account"]["email"] == bruno["email"] and data["account"]["display_name"] == "Bruno"
    assert [(a["stakeholder_group"], a["country"], a["organisation"]) for a in data["affiliations"]] == [
        ("private_sector", "BR", "Rede Aberta")
    ]
    assert [(m["network"], m["role"]) for m in data["memberships"]] == [(council["slug"], "member")]
    assert [(v["ballot_id"], v["position"]) for v in data["votes"]] == [(ballot["id"], "approve")]
    assert [(c["consultation_id"], c["body"]) for c in data["comments"]] == [(consultation["id"], "Define ranking criteria.")]
    assert "argon2" not in answer.text and "password" not in answer.text and "secret" not in answer.text
    assert (await client.get("/api/v1/me/export")).status_code == 401


async def test_deleting_an_account_keeps_its_public_acts_under_a_pseudonym_and_the_audit_chain_valid(
    client, council, clock, database_url, audit_events
):
    bruno = council["members"][1]
    ballot, consultation = await _vote_and_comment(client, council, clock, bruno)

    wrong = await client.request("DELETE", "/api/v1/me", json={"password": "not my password"}, headers=bruno["headers"])
    assert wrong.status_code == 401 and wrong.json()["errors"] == [{"field": "password", "message": "Your current password is not right."}]
    assert (await client.get("/api/v1/me", headers=bruno["headers"])).status_code == 200

    deleted = await client.request("DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=bruno["headers"])
    assert deleted.status_code == 204, deleted.text
    pseudonym = f"Former participant {bruno['id'].replace('-', '')[:4]}"

    # Signed out, and the address and password no longer sign anyone in.
    assert (await client.get("/api/v1/me", headers=bruno["headers"])).status_code == 401
    assert (await client.post("/api/v1/auth/token", data={"username": bruno["email"], "password": PASSWORD})).status_code == 401
    # The public record: the vote, the comment and the audit log show the pseudonym, never the name.
    record = await client.get(f"/api/v1/ballots/{ballot['id']}")
    assert pseudonym in record.text and "Bruno" not in record.text
    comments = await client.get(f"/api/v1/consultations/{consultation['id']}/comments")
    [comment] = comments.json()
    assert comment["body"] == "Define ranking criteria." and pseudonym in json.dumps(comment) and "Bruno" not in comments.text
    [event] = await audit_events(action="participant.deleted")
    assert event["actor"] == {"id": bruno["id"], "display_name": pseudonym} and event["payload"] == {"display_name": pseudonym}
    # Gone from the roster, by leaving as anyone leaves (audited).
    members = (await client.get(f"/api/v1/networks/{council['slug']}/members")).json()["items"]
    assert bruno["id"] not in [member["participant_id"] for member in members]
    assert [e["actor"]["id"] for e in await audit_events(action="network.left")] == [bruno["id"]]

    verified = run_cogov("audit", "verify", database_url=database_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The address is free again for a new account.
    again = await client.post("/api/v1/auth/register", json={"email": bruno["email"], "password": PASSWORD, "display_name": "New Bruno"})
    assert again.status_code == 202
    assert (await client.post("/api/v1/auth/token", data={"username": bruno["email"], "password": PASSWORD})).status_code == 200


async def test_the_last_convener_of_a_network_with_members_cannot_delete_the_account_yet(client, council):
    amina = council["convener"]
    refused = await client.request("DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=amina["headers"])
    assert refused.status_code == 409 and refused.json()["code"] == "last_convener"
    assert (await client.get("/api/v1/me", headers=amina["headers"])).json()["display_name"] == "Amina"
    assert (await client.get("/api/v1/me/sessions", headers=amina["headers"])).status_code == 200
