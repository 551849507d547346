"""Closing at the deadline in the background (`cogov serve`, `cogov worker`), and the outbox adoption writes to."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from norms import ballots, outbox
from services.kit.clock import ManualClock
from services.kit.db import transaction
from tests.cli import run_cogov


async def _due_ballot(client, council, clock) -> dict:
    """A ballot everyone but Dana approved, whose deadline has passed."""
    response = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=2)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert response.status_code == 201, response.text
    ballot = response.json()
    for person in council["members"][:3]:
        voted = await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=person["headers"])
        assert voted.status_code == 200, voted.text
    return ballot


async def test_the_background_closer_closes_ballots_past_their_deadline(client, app, council, clock):
    ballot = await _due_ballot(client, council, clock)
    clock.advance(hours=2)
    async with ballots.closing_ballots(app.state.sessionmaker, clock, interval=0.01):
        for _ in range(500):  # wait for the background task's round, not for time to pass
            record = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()
            if record["status"] == "closed":
                break
            await asyncio.sleep(0.01)
    assert (record["status"], record["close_reason"]) == ("closed", "deadline")


async def test_the_app_runs_the_closer_on_its_own_clock_and_interval(app):
    assert app.state.ballot_sweep_seconds == ballots.SWEEP_SECONDS
    assert app.state.clock.now().tzinfo is not None


async def test_cogov_worker_once_closes_due_ballots(client, app, council, settings):
    # Opened three hours ago (by the ballot's clock), closing an hour ago (by the real one).
    app.state.clock = ManualClock(datetime.now(UTC) - timedelta(hours=3))
    ballot = await _due_ballot(client, council, app.state.clock)
    result = await asyncio.to_thread(run_cogov, "worker", "--once", database_url=settings.database_url)
    assert result.returncode == 0, result.stderr
    assert "ballots closed: 1" in result.stdout
    record = (await client.get(f"/api/v1/ballots/{ballot['id']}")).json()
    assert (record["status"], record["close_reason"], record["adopted"]) == ("closed", "deadline", False)
    again = await asyncio.to_thread(run_cogov, "worker", "--once", database_url=settings.database_url)
    assert "ballots closed: 0" in again.stdout


async def test_outbox_events_are_claimed_under_a_lease_and_completed_once(app):
    clock = ManualClock()
    lease = timedelta(minutes=5)
    async with transaction(app.state.sessionmaker) as session:
        first = await outbox.emit(session, "norm.adopted", {"n": 1}, at=clock.now())
        await outbox.emit(session, "norm.adopted", {"n": 2}, at=clock.now())
        await outbox.emit(session, "other.kind", {"n": 3}, at=clock.now())

    async def claim(worker: str) -> list[int]:
        async with transaction(app.state.sessionmaker) as session:
            return [
                event.payload["n"]
                for event in await outbox.claim(session, kinds=["norm.adopted"], worker=worker, now=clock.now(), lease=lease)
            ]

    assert await claim("a") == [1, 2]
    assert await claim("b") == []  # leased to a
    async with transaction(app.state.sessionmaker) as session:
        assert await outbox.complete(session, first.id, worker="a", now=clock.now())
    clock.advance(minutes=6)  # a's lease on event 2 runs out unfinished
    assert await claim("b") == [2]
    async with transaction(app.state.sessionmaker) as session:
        assert not await outbox.complete(session, first.id + 1, worker="a", now=clock.now())  # b holds it now
        assert await outbox.complete(session, first.id + 1, worker="b", now=clock.now())
    clock.advance(hours=1)
    assert await claim("c") == []
