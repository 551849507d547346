"""Sense checks through the API: a convener asks, members answer, the sign-off rule tallies by group and region
exactly as it tallies a ballot of the same votes; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.norms import BALLOT_PATTERNS

AS_ANSWER = {"approve": "agree", "object": "disagree", "abstain": "abstain"}


async def ask(client, council, **body) -> dict:
    response = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/sense-checks",
        json={"question": "Is this ready for a ballot?", **body},
        headers=council["convener"]["headers"],
    )
    assert response.status_code == 201, response.text
    return response.json()


async def answer(client, check, person, value, reason=None):
    body = {"answer": value} | ({"reason": reason} if reason is not None else {})
    return await client.put(f"/api/v1/sense-checks/{check['id']}/answer", json=body, headers=person["headers"])


async def test_a_sense_check_tallies_as_a_ballot_of_the_same_votes(client, council, clock):
    ballot = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=2)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert ballot.status_code == 201, ballot.text
    ballot_id = ballot.json()["id"]
    check = await ask(client, council, version=1)
    assert check["would_pass"] is False and check["status"] == "open"
    for pattern in BALLOT_PATTERNS:
        for index, position in pattern.items():
            person = council["members"][index]
            reason = "Not yet clear" if position == "object" else None
            body = {"position": position} | ({"reason": reason} if reason else {})
            voted = await client.put(f"/api/v1/ballots/{ballot_id}/vote", json=body, headers=person["headers"])
            assert voted.status_code == 200, voted.text
            answered = await answer(client, check, person, AS_ANSWER[position], reason)
            assert answered.status_code == 200, answered.text
        by_ballot = (await client.get(f"/api/v1/ballots/{ballot_id}")).json()
        by_check = (await client.get(f"/api/v1/sense-checks/{check['id']}")).json()
        assert by_check["outcome"] == by_ballot["outcome"], pattern
        assert by_check["would_pass"] == by_ballot["outcome"]["adopted"]
        assert by_check["policy"] == by_ballot["policy"]
    # With every group passing, only Dana's region is missing: the same words as the ballot's.
    assert by_check["would_pass"] is False
    assert by_check["outcome"]["missing"] == [
        "turnout 0 of 1 in western_europe_others, needs 1",
        "needs approvals from 1 more organisation in western_europe_others (no approvals yet, needs more than 1/2)",
    ]


async def test_answers_change_until_closed_and_disagreeing_needs_a_reason(client, council, clock):
    amina, bruno, chen, _dana = council["members"]
    check = await ask(client, council)
    assert check["version"] is None  # the current text
    refused = await answer(client, check, bruno, "disagree")
    assert refused.status_code == 422 and "reason" in refused.text
    assert (await answer(client, check, bruno, "disagree", "   ")).status_code == 422
    first = (await answer(client, check, bruno, "disagree", "Too vague")).json()
    assert [(a["name"], a["answer"], a["reason"]) for a in first["answers"]] == [("Bruno", "disagree", "Too vague")]
    assert "turnout 0 of 2 in civil_society, needs 1" in first["outcome"]["missing"]
    changed = (await answer(client, check, bruno, "agree")).json()
    assert [(a["answer"], a["changed_at"] is not None) for a in changed["answers"]] == [("agree", True)]
    # Only members answer; only conveners ask and close.
    outsider = council["outsider"]
    assert (await answer(client, check, outsider, "agree")).status_code == 403
    assert (
        await client.post(f"/api/v1/norms/{council['norm']['id']}/sense-checks", json={"question": "Ready?"}, headers=chen["headers"])
    ).status_code == 403
    assert (await client.post(f"/api/v1/sense-checks/{check['id']}/close", headers=chen["headers"])).status_code == 403
    closed = await client.post(f"/api/v1/sense-checks/{check['id']}/close", headers=amina["headers"])
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    late = await answer(client, check, chen, "agree")
    assert late.status_code == 409 and late.json()["code"] == "sense_check_closed"
    # It adopted and published nothing, and everything is in the audit log.
    assert (await client.get(f"/api/v1/norms/{council['norm']['id']}")).json()["status"] == "drafting"
    events = (await client.get("/api/v1/audit", params={"target_id": check["id"]})).json()["items"]
    assert sorted(e["action"] for e in events) == [
        "sense_check.answer_changed",
        "sense_check.answered",
        "sense_check.closed",
        "sense_check.opened",
    ]
    # A deadline closes it too.
    timed = await ask(client, council, closes_at=(clock.now() + timedelta(hours=1)).isoformat())
    clock.advance(timedelta(hours=2))
    assert (await answer(client, timed, chen, "agree")).status_code == 409
    assert (await client.get(f"/api/v1/sense-checks/{timed['id']}")).json()["status"] == "closed"
    listed = (await client.get(f"/api/v1/norms/{council['norm']['id']}/sense-checks")).json()
    assert {c["id"]: c["status"] for c in listed} == {check["id"]: "closed", timed["id"]: "closed"}
