"""Ballots under real concurrency on PostgreSQL: simultaneous votes, closes and openings, several instances."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from norms import ballots
from norms.models import Adoption
from norms.outbox import OutboxEvent
from services.api.app import create_app
from tests.fixtures.norms import COUNCIL

pytestmark = pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)

GROUPS = ["civil_society", "private_sector", "technical_academic", "government"]
COUNTRIES = ["KE", "BR", "SG", "DE", "PL"]  # five regions


async def counts(app) -> tuple[int, int]:
    """(adoptions, outbox events)."""
    async with app.state.sessionmaker() as session:
        adoptions = await session.scalar(select(func.count()).select_from(Adoption))
        events = await session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.kind == "norm.adopted"))
    return adoptions, events


async def actions(client, ballot_id) -> list[str]:
    response = await client.get("/api/v1/audit", params={"limit": 200, "target_type": "ballot", "target_id": ballot_id})
    return [event["action"] for event in response.json()["items"]]


async def open_ballot(client, council, clock, hours=2) -> dict:
    response = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=hours)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_fifty_electors_vote_at_once_and_every_vote_counts_once(client, app, make_council, clock):
    rows = [(f"Elector {n:02}", GROUPS[n % 4], COUNTRIES[n % 5], f"Organisation {n % 20}") for n in range(50)]
    council = await make_council(rows)
    ballot = await open_ballot(client, council, clock)
    assert len(ballot["electorate"]) == 50

    responses = await asyncio.gather(
        *(
            client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=person["headers"])
            for person in council["members"]
        )
    )
    assert [response.status_code for response in responses] == [200] * 50

    record = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()
    assert sorted(vote["participant_id"] for vote in record["votes"]) == sorted(person["id"] for person in council["members"])
    assert (record["status"], record["close_reason"], record["adopted"], record["voted"]) == ("closed", "all_voted", True, 50)
    assert all(t["voted"] == t["electors"] for t in record["outcome"]["groups"] + record["outcome"]["regions"])
    done = await actions(client, ballot["id"])
    assert (done.count("ballot.vote_cast"), done.count("ballot.closed")) == (50, 1)
    assert await counts(app) == (1, 1)


async def test_concurrent_closes_from_several_instances_make_one_adoption_and_one_event(client, app, settings, make_council, clock):
    council = await make_council([*COUNCIL, ("Emeka", "civil_society", "NG", "Paradigm Initiative")])
    ballot = await open_ballot(client, council, clock, hours=2)
    for person in council["members"][:4]:  # Emeka does not vote, so the ballot stays open
        response = await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=person["headers"])
        assert response.status_code == 200, response.text
    clock.advance(hours=2)

    # A second instance of the app on the same database, with its own engine and the same clock.
    other = create_app(settings)
    other.state.clock = clock
    try:
        convener = council["convener"]["headers"]
        results = await asyncio.gather(
            client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=convener),
            client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=convener),
            ballots.close_due(app.state.sessionmaker, clock),
            ballots.close_due(other.state.sessionmaker, clock),
            ballots.close_due(other.state.sessionmaker, clock),
        )
    finally:
        await other.state.engine.dispose()

    first, second, *sweeps = results
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["adopted"] is True and first.json() == second.json()
    # Whoever came first closed it; a sweep that found it closed (or locked) closed nothing.
    assert sum(sweeps) <= 1
    assert (await actions(client, ballot["id"])).count("ballot.closed") == 1
    assert await counts(app) == (1, 1)
    norm = (await client.get(f"/api/v1/norms/{council['norm']['id']}")).json()
    assert (norm["status"], norm["adopted_version"]) == ("adopted", 1)


async def test_two_conveners_opening_at_once_open_one_ballot(client, council, clock):
    amina, bruno = council["members"][:2]
    appointed = await client.post(
        f"/api/v1/networks/{council['slug']}/conveners", json={"participant_id": bruno["id"]}, headers=amina["headers"]
    )
    assert appointed.status_code == 200
    body = {"version": 1, "closes_at": (clock.now() + timedelta(hours=2)).isoformat()}
    url = f"/api/v1/norms/{council['norm']['id']}/ballots"
    responses = await asyncio.gather(*(client.post(url, json=body, headers=person["headers"]) for person in (amina, bruno, amina, bruno)))
    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409]
    assert {response.json()["code"] for response in responses if response.status_code == 409} == {"ballot_already_open"}
    assert len((await client.get(url)).json()) == 1


async def test_votes_racing_a_close_are_counted_or_refused_never_lost(client, make_council, clock):
    rows = [(f"Elector {n:02}", GROUPS[n % 4], COUNTRIES[n % 5], None) for n in range(20)]
    council = await make_council(rows)
    ballot = await open_ballot(client, council, clock, hours=2)
    clock.advance(hours=1)  # past the minimum duration: the convener may close while votes arrive
    voters = council["members"][1:]
    close, *votes = await asyncio.gather(
        client.post(f"/api/v1/ballots/{ballot['id']}/close", headers=council["convener"]["headers"]),
        *(client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=p["headers"]) for p in voters),
    )
    assert close.status_code == 200
    assert {response.status_code for response in votes} <= {200, 409}
    accepted = {person["id"] for person, response in zip(voters, votes, strict=True) if response.status_code == 200}
    record = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()
    assert record["status"] == "closed"
    assert {vote["participant_id"] for vote in record["votes"]} == accepted
    assert sum(t["voted"] for t in record["outcome"]["groups"]) == len(accepted)
