"""Ballots through the API: open, vote, what-if, close, adopt, and every refusal, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select, text, update

from networks.models import Network, NetworkStatus
from norms import ballots
from norms.outbox import OutboxEvent
from tests.fixtures.norms import COUNCIL, TEXT


def later(clock, **units) -> str:
    return (clock.now() + timedelta(**units)).isoformat()


async def open_ballot(client, council, clock, *, version=1, hours=2, person=None):
    return await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": version, "closes_at": later(clock, hours=hours)},
        headers=(person or council["convener"])["headers"],
    )


async def opened(client, council, clock, **options) -> dict:
    response = await open_ballot(client, council, clock, **options)
    assert response.status_code == 201, response.text
    return response.json()


async def vote(client, person, ballot, position, reason=None):
    body = {"position": position} | ({"reason": reason} if reason is not None else {})
    return await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json=body, headers=person["headers"])


async def voted(client, person, ballot, position, reason=None) -> dict:
    response = await vote(client, person, ballot, position, reason)
    assert response.status_code == 200, response.text
    return response.json()


async def audit(client, **filters) -> list[dict]:
    response = await client.get("/api/v1/audit", params={"limit": 200, **filters})
    return list(reversed(response.json()["items"]))


async def outbox_events(app) -> list[OutboxEvent]:
    """The adoptions written to the outbox (the clearing house's publication events; each network's activity
    feed has events of its own, `network.activity`)."""
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "norm.adopted").order_by(OutboxEvent.id))).all())


def tally(ballot: dict, key: str) -> dict:
    return next(t for t in ballot["outcome"]["groups"] + ballot["outcome"]["regions"] if t["key"] == key)


async def test_a_ballot_adopts_when_every_group_and_region_passes(client, app, council, clock):
    amina, bruno, chen, dana = council["members"]
    ballot = await opened(client, council, clock)
    assert ballot["status"] == "open" and ballot["version"]["number"] == 1
    assert ballot["version"]["text_sha256"] == hashlib.sha256(TEXT.encode()).hexdigest()
    assert ballot["policy"] == {
        "charter_version": 1,
        "quorum": "1/2",
        "quorum_value": 0.5,
        "threshold": "1/2",
        "threshold_value": 0.5,
        "min_ballot_hours": 1,
        "verified_only": False,
        "statement": "Every member with an affiliation votes, verified or not (verified_only off)",
    }
    assert {(e["name"], e["stakeholder_group"], e["region"], e["organisation"]) for e in ballot["electorate"]} == {
        ("Amina", "civil_society", "africa", "Digital Rights Kenya"),
        ("Bruno", "private_sector", "latin_america_caribbean", "Rede Aberta"),
        ("Chen", "technical_academic", "asia_pacific", "NUS"),
        ("Dana", "civil_society", "western_europe_others", "EDRi"),
    }
    assert [t["key"] for t in ballot["outcome"]["groups"]] == ["civil_society", "private_sector", "technical_academic"]
    assert tally(ballot, "civil_society")["label"] == "Civil society"
    assert "turnout 0 of 2 in civil_society, needs 1" in ballot["outcome"]["missing"]

    after_amina = await voted(client, amina, ballot, "approve")
    assert tally(after_amina, "civil_society")["passes"] is True
    after_dana = await voted(client, dana, ballot, "object", "Ranking criteria alone say nothing about outcomes.")
    civil = tally(after_dana, "civil_society")
    assert (civil["approvals"], civil["objections"], civil["support"], civil["passes"]) == ("1", "1", "1/2", False)
    assert (
        "needs approvals from 1 more organisation in civil_society (support 1/2, needs more than 1/2)" in after_dana["outcome"]["missing"]
    )
    dana_vote = next(v for v in after_dana["votes"] if v["name"] == "Dana")
    assert (dana_vote["position"], dana_vote["reason"], dana_vote["region"]) == (
        "object",
        "Ranking criteria alone say nothing about outcomes.",
        "western_europe_others",
    )

    await voted(client, dana, ballot, "approve")  # persuaded: a vote may change until close
    await voted(client, bruno, ballot, "approve")
    before_last = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()
    assert before_last["outcome"]["missing"] == [
        "turnout 0 of 1 in technical_academic, needs 1",
        "needs approvals from 1 more organisation in technical_academic (no approvals yet, needs more than 1/2)",
        "turnout 0 of 1 in asia_pacific, needs 1",
        "needs approvals from 1 more organisation in asia_pacific (no approvals yet, needs more than 1/2)",
    ]
    assert before_last["outcome"]["settled"] is False

    # The last elector's vote closes the ballot, and the version is adopted.
    closed = await voted(client, chen, ballot, "approve")
    assert (closed["status"], closed["close_reason"], closed["adopted"]) == ("closed", "all_voted", True)
    assert closed["outcome"]["adopted"] is True and closed["outcome"]["missing"] == []
    assert closed["closed_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert (closed["electors"], closed["voted"]) == (4, 4)
    assert closed["adoption_id"]

    norm = (await client.get(f"/api/v1/norms/{council['norm']['id']}")).json()
    assert (norm["status"], norm["adopted_version"]) == ("adopted", 1)
    [adoption] = (await client.get(f"/api/v1/norms/{council['norm']['id']}/adoptions")).json()
    assert adoption["id"] == closed["adoption_id"] and adoption["in_force"] and adoption["supersedes_id"] is None
    assert (adoption["version_number"], adoption["text_sha256"], adoption["heads"]) == (
        1,
        ballot["version"]["text_sha256"],
        ballot["version"]["heads"],
    )
    assert adoption["outcome"] == closed["outcome"] and adoption["policy"] == closed["policy"]
    assert sorted((v["name"], v["position"]) for v in adoption["votes"]) == [
        ("Amina", "approve"),
        ("Bruno", "approve"),
        ("Chen", "approve"),
        ("Dana", "approve"),
    ]
    [event] = await outbox_events(app)
    assert event.kind == "norm.adopted" and event.processed_at is None and event.attempts == 0
    assert event.payload["adoption_id"] == adoption["id"]
    assert (event.payload["network"], event.payload["version"], event.payload["text_sha256"]) == (
        council["slug"],
        1,
        adoption["text_sha256"],
    )

    acts = await audit(client, target_type="ballot", target_id=ballot["id"])
    assert [e["action"] for e in acts] == [
        "ballot.opened",
        "ballot.vote_cast",
        "ballot.vote_cast",
        "ballot.vote_changed",
        "ballot.vote_cast",
        "ballot.vote_cast",
        "ballot.closed",
    ]
    [adopted] = await audit(client, action="norm.adopted")
    assert adopted["target_id"] == council["norm"]["id"] and adopted["payload"]["adoption_id"] == adoption["id"]


async def test_each_vote_and_each_change_is_audited_and_public(client, council, clock):
    amina, bruno = council["members"][:2]
    ballot = await opened(client, council, clock)
    await voted(client, bruno, ballot, "object", "Trade secrets")
    await voted(client, bruno, ballot, "object", "Trade secrets")  # the same again changes nothing
    await voted(client, bruno, ballot, "abstain")
    await voted(client, amina, ballot, "approve", "A first step")
    events = await audit(client, target_type="ballot", target_id=ballot["id"])
    assert [(e["action"], e["payload"].get("position"), (e["payload"].get("previous") or {}).get("position")) for e in events] == [
        ("ballot.opened", None, None),
        ("ballot.vote_cast", "object", None),
        ("ballot.vote_changed", "abstain", "object"),
        ("ballot.vote_cast", "approve", None),
    ]
    assert events[1]["actor"]["id"] == bruno["id"] and events[1]["payload"]["reason"] == "Trade secrets"

    record = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()  # anonymous
    by_name = {v["name"]: v for v in record["votes"]}
    assert by_name["Bruno"]["position"] == "abstain" and by_name["Bruno"]["reason"] is None and by_name["Bruno"]["changed_at"]
    assert by_name["Amina"]["reason"] == "A first step"
    assert {e["name"]: e["voted"] for e in record["electorate"]} == {"Amina": True, "Bruno": True, "Chen": False, "Dana": False}


async def test_bad_input_is_refused_with_a_clear_error(client, app, council, clock):
    amina, bruno = council["members"][:2]
    norm_id = council["norm"]["id"]

    async def refused(response, status, code=None):
        assert response.status_code == status, response.text
        if code:
            assert response.json()["code"] == code, response.text
        return response.json()

    await refused(await open_ballot(client, council, clock, version=7), 404, "version_not_found")
    await refused(await open_ballot(client, council, clock, person=bruno), 403, "not_convener")
    await refused(await open_ballot(client, council, clock, person=council["outsider"]), 403, "not_convener")
    too_soon = await refused(await open_ballot(client, council, clock, hours=0.5), 422, "closes_at_invalid")
    assert "at least 1 hours from now" in too_soon["detail"]
    await refused(await open_ballot(client, council, clock, hours=24 * 400), 422, "closes_at_invalid")
    naive = await client.post(
        f"/api/v1/norms/{norm_id}/ballots", json={"version": 1, "closes_at": "2031-01-01T00:00:00"}, headers=amina["headers"]
    )
    await refused(naive, 422, "validation_error")
    unknown_norm = await client.post(
        "/api/v1/norms/00000000-0000-0000-0000-000000000000/ballots",
        json={"version": 1, "closes_at": later(clock, hours=2)},
        headers=amina["headers"],
    )
    await refused(unknown_norm, 404, "norm_not_found")

    ballot = await opened(client, council, clock)
    second = await refused(await open_ballot(client, council, clock), 409, "ballot_already_open")
    assert ballot["id"] in second["detail"]

    await refused(await vote(client, council["outsider"], ballot, "approve"), 403, "not_an_elector")
    unknown = await refused(await vote(client, amina, ballot, "maybe"), 422, "validation_error")
    assert unknown["errors"][0]["field"] == "position"
    no_reason = await refused(await vote(client, amina, ballot, "object"), 422, "validation_error")
    assert no_reason["errors"] == [{"field": "reason", "message": "An objection needs a reason; it is shown with your vote"}]
    await refused(await vote(client, amina, ballot, "object", "   "), 422, "validation_error")
    anonymous = await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"})
    await refused(anonymous, 401)
    missing = {"id": "00000000-0000-0000-0000-000000000000"}
    await refused(await vote(client, amina, missing, "approve"), 404, "ballot_not_found")
    await refused(await client.get(f"/api/v1/ballots/{missing['id']}"), 404, "ballot_not_found")

    await refused(await client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=bruno["headers"]), 403, "not_convener")
    early = await refused(await client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=amina["headers"]), 409, "too_early_to_close")
    assert "the charter's minimum of 1 hours" in early["detail"]

    clock.advance(hours=1)
    closed = (await client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=amina["headers"])).json()
    assert (closed["status"], closed["close_reason"], closed["adopted"]) == ("closed", "convener", False)
    assert closed["closed_by"]["display_name"] == "Amina"
    await refused(await vote(client, amina, ballot, "approve"), 409, "ballot_closed")
    # Closing again is not an error and changes nothing.
    again = await client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=amina["headers"])
    assert again.status_code == 200 and again.json() == closed
    assert [e["action"] for e in await audit(client, target_type="ballot", target_id=ballot["id"])].count("ballot.closed") == 1
    assert await outbox_events(app) == []


async def test_only_the_roster_at_opening_votes_with_the_affiliation_it_had_then(client, council, clock, sign_up):
    bruno = council["members"][1]
    ballot = await opened(client, council, clock)
    # A member who joins later does not vote on this ballot.
    newcomer = await sign_up("Nadia")
    await client.put("/api/v1/me/affiliation", json={"stakeholder_group": "government", "country": "EG"}, headers=newcomer["headers"])
    assert (await client.post(f"/api/v1/networks/{council['slug']}/join", headers=newcomer["headers"])).status_code == 201
    refused = await vote(client, newcomer, ballot, "approve")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_an_elector")
    # An elector who changes affiliation still votes as what they were when it opened.
    changed = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "government", "country": "FR", "organisation": "Ministry"},
        headers=bruno["headers"],
    )
    assert changed.status_code == 200
    record = await voted(client, bruno, ballot, "approve")
    assert [(v["stakeholder_group"], v["region"], v["organisation"]) for v in record["votes"]] == [
        ("private_sector", "latin_america_caribbean", "Rede Aberta")
    ]
    assert len(record["electorate"]) == 4 and "government" not in [t["key"] for t in record["outcome"]["groups"]]


async def test_a_charter_amended_while_a_ballot_is_open_does_not_change_its_policy(client, make_council, clock):
    council = await make_council([*COUNCIL, ("Emeka", "civil_society", "NG", "Paradigm Initiative")])
    amina, bruno, chen, dana, _emeka = council["members"]
    ballot = await opened(client, council, clock)
    amended = await client.patch(
        f"/api/v1/networks/{council['slug']}/charter", json={"signoff": {"quorum": "1", "threshold": "1"}}, headers=amina["headers"]
    )
    assert amended.status_code == 200 and amended.json()["charter"]["version"] == 2
    for person in (amina, bruno, chen, dana):
        await voted(client, person, ballot, "approve")
    # Emeka does not vote: civil society's turnout of 2 of 3 meets the ballot's quorum of 1/2, not the new 1.
    clock.advance(hours=1)
    closed = (await client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=amina["headers"])).json()
    assert closed["policy"]["charter_version"] == 1 and closed["policy"]["quorum"] == "1/2"
    assert closed["adopted"] is True
    # The next ballot takes the amended charter.
    v2 = await client.post(f"/api/v1/norms/{council['norm']['id']}/versions", json={"label": "v2"}, headers=amina["headers"])
    assert v2.status_code == 201
    following = await opened(client, council, clock, version=2)
    assert (following["policy"]["charter_version"], following["policy"]["quorum"], following["policy"]["threshold"]) == (2, "1", "1")


async def test_the_convener_closes_after_the_minimum_duration_and_the_record_says_what_was_missing(client, council, clock):
    amina, bruno = council["members"][:2]
    ballot = await opened(client, council, clock, hours=48)
    await voted(client, amina, ballot, "approve")
    await voted(client, bruno, ballot, "object", "Too vague on audits")
    clock.advance(hours=1, seconds=1)
    closed = (await client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=amina["headers"])).json()
    assert (closed["close_reason"], closed["adopted"], closed["outcome"]["adopted"]) == ("convener", False, False)
    assert closed["outcome"]["missing"] == [
        "needs approvals from 2 more organisations in private_sector (support 0, needs more than 1/2)",
        "turnout 0 of 1 in technical_academic, needs 1",
        "needs approvals from 1 more organisation in technical_academic (no approvals yet, needs more than 1/2)",
        "turnout 0 of 1 in asia_pacific, needs 1",
        "needs approvals from 1 more organisation in asia_pacific (no approvals yet, needs more than 1/2)",
        "needs approvals from 2 more organisations in latin_america_caribbean (support 0, needs more than 1/2)",
        "turnout 0 of 1 in western_europe_others, needs 1",
        "needs approvals from 1 more organisation in western_europe_others (no approvals yet, needs more than 1/2)",
    ]
    norm = (await client.get(f"/api/v1/norms/{council['norm']['id']}")).json()
    assert (norm["status"], norm["adopted_version"]) == ("drafting", None)
    # The record stays public, as it was at closing.
    assert (await client.get(f"/api/v1/ballots/{ballot['id']}")).json() == closed
    # A closed ballot frees the norm for the next one.
    assert (await open_ballot(client, council, clock)).status_code == 201


async def test_a_ballot_closes_at_its_deadline(client, app, council, clock):
    amina, bruno, chen, _ = council["members"]
    ballot = await opened(client, council, clock, hours=3)
    for person in (amina, bruno, chen):
        await voted(client, person, ballot, "approve")
    assert await ballots.close_due(app.state.sessionmaker, clock) == 0  # not due yet
    clock.advance(hours=3)
    late = await vote(client, council["members"][3], ballot, "object", "Too late?")
    assert (late.status_code, late.json()["code"]) == (409, "ballot_closed")
    assert (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()["status"] == "open"  # until the sweep runs

    clock.advance(minutes=1)  # the sweep runs a little after the deadline
    assert await ballots.close_due(app.state.sessionmaker, clock) == 1
    assert await ballots.close_due(app.state.sessionmaker, clock) == 0
    closed = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()
    assert (closed["status"], closed["close_reason"], closed["closed_by"], closed["closes_at"]) == (
        "closed",
        "deadline",
        None,
        closed["closed_at"],
    )
    # Dana never voted: civil society passes on Amina's turnout of 1 of 2; every region present voted but hers.
    assert closed["adopted"] is False
    assert closed["outcome"]["missing"] == [
        "turnout 0 of 1 in western_europe_others, needs 1",
        "needs approvals from 1 more organisation in western_europe_others (no approvals yet, needs more than 1/2)",
    ]


async def test_what_if_shows_what_consensus_still_needs_and_stores_nothing(client, council, clock):
    amina, bruno, chen, dana = council["members"]
    ballot = await opened(client, council, clock)
    await voted(client, amina, ballot, "approve")
    await voted(client, bruno, ballot, "object", "Not yet")
    url = f"/api/v1/ballots/{ballot['id']}/what-if"

    nothing_more = (await client.post(url, json={"votes": []})).json()
    assert nothing_more["adopted"] is False
    bruno_persuaded = {"participant_id": bruno["id"], "position": "approve"}
    chen_dana = [{"participant_id": chen["id"], "position": "approve"}, {"participant_id": dana["id"], "position": "approve"}]
    enough = (await client.post(url, json={"votes": [bruno_persuaded, *chen_dana]})).json()
    assert enough["adopted"] is True and enough["missing"] == []
    not_enough = (await client.post(url, json={"votes": chen_dana})).json()
    assert not_enough["adopted"] is False
    assert "needs approvals from 2 more organisations in private_sector (support 0, needs more than 1/2)" in not_enough["missing"]
    assert not_enough["settled"] is True  # everyone would have voted: only a changed vote can help

    stranger = await client.post(url, json={"votes": [{"participant_id": council["outsider"]["id"], "position": "approve"}]})
    assert (stranger.status_code, stranger.json()["code"]) == (422, "what_if_invalid")
    bad = await client.post(url, json={"votes": [{"participant_id": chen["id"], "position": "yes"}]})
    assert bad.status_code == 422
    record = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()
    assert (record["status"], record["voted"]) == ("open", 2)


async def test_editing_goes_on_after_adoption_and_a_later_version_supersedes(client, app, council, clock):
    amina, bruno, chen, dana = council["members"]
    norm_id = council["norm"]["id"]

    async def adopt(version: int) -> dict:
        ballot = await opened(client, council, clock, version=version)
        for person in (amina, bruno, chen, dana):
            record = await voted(client, person, ballot, "approve")
        assert record["adopted"] is True
        return record

    first = await adopt(1)
    edit = await client.post(
        f"/api/v1/norms/{norm_id}/edits", json={"splices": [{"index": 10, "delete": 7, "insert": "disclose"}]}, headers=dana["headers"]
    )
    assert edit.status_code == 200, edit.text
    again = await open_ballot(client, council, clock, version=1)
    assert (again.status_code, again.json()["code"]) == (409, "version_already_adopted")
    assert (await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "v2"}, headers=dana["headers"])).status_code == 201
    clock.advance(days=3)
    second = await adopt(2)

    norm = (await client.get(f"/api/v1/norms/{norm_id}")).json()
    assert (norm["status"], norm["adopted_version"], norm["text"]) == ("adopted", 2, "Platforms disclose their ranking criteria.")
    adoptions = (await client.get(f"/api/v1/norms/{norm_id}/adoptions")).json()
    assert [(a["version_number"], a["in_force"], a["supersedes_id"]) for a in adoptions] == [
        (2, True, first["adoption_id"]),
        (1, False, None),
    ]
    assert adoptions[0]["id"] == second["adoption_id"]
    assert [e.payload["version"] for e in await outbox_events(app)] == [1, 2]
    listing = (await client.get(f"/api/v1/norms/{norm_id}/ballots")).json()
    assert [(b["version_number"], b["status"], b["adopted"], b["electors"], b["voted"]) for b in listing] == [
        (2, "closed", True, 4, 4),
        (1, "closed", True, 4, 4),
    ]


async def test_ballots_open_only_in_active_networks_on_a_wide_enough_electorate(client, app, council, clock):
    # Leaving makes the network fall back to forming: no ballot then.
    assert (await client.post(f"/api/v1/networks/{council['slug']}/leave", headers=council["members"][2]["headers"])).status_code == 204
    forming = await open_ballot(client, council, clock)
    assert (forming.status_code, forming.json()["code"]) == (409, "network_not_active")
    assert f"/api/v1/networks/{council['slug']}/formation" in forming.json()["detail"]

    # The formation rule already needs 3 groups, so only a network marked active by hand can have a
    # one-region roster; the ballot still refuses it.
    for person in council["members"][1:2] + council["members"][3:]:
        await client.put("/api/v1/me/affiliation", json={"stakeholder_group": person["group"], "country": "KE"}, headers=person["headers"])
    async with app.state.sessionmaker() as session:
        await session.execute(update(Network).where(Network.slug == council["slug"]).values(status=NetworkStatus.active))
        await session.commit()
    narrow = await open_ballot(client, council, clock)
    assert (narrow.status_code, narrow.json()["code"]) == (409, "electorate_too_narrow")
    assert narrow.json()["detail"] == (
        "A ballot cannot open: the electorate spans 1 region (africa); at least 2 are needed so that no region decides alone"
    )


async def test_the_norm_summary_and_database_agree_on_adoption(client, app, council, clock):
    amina, bruno, chen, dana = council["members"]
    ballot = await opened(client, council, clock)
    for person in (amina, bruno, chen, dana):
        await voted(client, person, ballot, "approve")
    listed = (await client.get(f"/api/v1/networks/{council['slug']}/norms")).json()
    assert [(n["status"], n["adopted_version"]) for n in listed] == [("adopted", 1)]
    async with app.state.sessionmaker() as session:
        status = await session.scalar(text("SELECT status FROM norms"))
    assert status == "adopted"
