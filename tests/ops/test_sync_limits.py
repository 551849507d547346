"""Live sync: one participant holds at most `sync_max_sockets_per_participant` sockets on an instance, so the
per-socket message limit cannot be multiplied by opening more; others are not affected."""

from __future__ import annotations

import asyncio
import uuid

import websockets

from tests.fixtures.databases import ON_SQLITE
from tests.fixtures.ops import scrape, value
from tests.realtime.servers import close_of

SETTINGS = {"sync_max_sockets_per_participant": 2}


def _held(app, person: dict) -> int:
    return sum(1 for connection in app.state.sync_hub.connections if connection.participant_id == uuid.UUID(person["id"]))


@ON_SQLITE
async def test_a_participant_holds_at_most_the_configured_sockets(client, app, network, norm, connect, live, ticket_for):
    amina, bruno = network["members"][:2]
    before = value(await scrape(client), "cogov_rate_limited_total", limit="sync_sockets")
    first, _second = await connect(amina), await connect(amina)
    extra = await websockets.connect(f"{live}?ticket={await ticket_for(amina)}")
    code, reason = await close_of(extra)
    assert code == 1008 and "more than 2 open sync sockets" in reason
    assert value(await scrape(client), "cogov_rate_limited_total", limit="sync_sockets") - before == 1
    # Someone else, and readers without an account, still connect; the two open sockets still sync.
    await connect(bruno)
    await connect()
    assert (await first.open(norm["url"])).text.startswith("Platforms")
    # Closing one frees its place.
    await first.close()
    for _ in range(100):
        if _held(app, amina) < 2:
            break
        await asyncio.sleep(0.05)
    again = await connect(amina)
    assert (await again.open(norm["url"])).text.startswith("Platforms")
