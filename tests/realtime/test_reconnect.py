"""The Python peer with `reconnect=`: a dropped socket is dialled again by itself and what was typed meanwhile arrives;
a refusal (signed out) ends it; dials that fail or are refused are retried."""

from __future__ import annotations

import asyncio
import uuid

from services.realtime import protocol
from services.realtime.client import SyncError


def _drop(app, person: dict, code: int = protocol.TRY_AGAIN_LATER) -> None:
    """Close every socket of this participant from the server side, as a restarting instance would."""
    for connection in list(app.state.sync_hub.connections):
        if connection.participant_id == uuid.UUID(person["id"]):
            connection.close(code, "restarting")


async def _until(condition, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_dropped_peer_dials_again_and_what_it_typed_offline_arrives(app, client, network, norm, live, ticket_for, connect):
    amina, bruno = network["members"][:2]
    allowed = asyncio.Event()
    dials: list[str] = []
    # Hostile and broken answers first: nothing listening, a forged ticket, an exception; then a real ticket.
    port = live.split(":")[2].split("/")[0]
    bad = [
        ("ws://127.0.0.1:1/api/v1/sync", None),
        (live, "forged.ticket.value"),
        (live.replace(port, port + "0"), None),
    ]

    async def dial() -> tuple[str, str | None]:
        await allowed.wait()
        dials.append("dial")
        if len(dials) == 3:
            raise RuntimeError("no ticket service")
        if bad and len(dials) <= 4:
            return bad.pop(0)
        return live, await ticket_for(amina)

    writer = await connect(amina, reconnect=dial)
    handle = await writer.open(norm["url"])
    reader = await (await connect(bruno)).open(norm["url"])

    _drop(app, amina)
    await _until(lambda: not writer.online)
    await handle.splice(0, 0, "Typed offline. ")  # kept in the replica: nothing to send it on
    assert not writer.closed.done()
    allowed.set()

    await reader.wait_for(lambda h: h.text.startswith("Typed offline. "), timeout=30)
    await handle.wait_synced(timeout=30)
    assert writer.reconnects == 1 and writer.online and not writer.closed.done()
    assert len(dials) >= 5 and sum("reconnect" in error for error in writer.errors) >= 4
    stored = (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]
    assert stored == handle.text == reader.text == "Typed offline. Platforms publish their ranking criteria."

    # And again, edits typed while connected keep flowing on the new socket.
    await reader.splice(len(reader.text), 0, " Agreed.")
    await handle.wait_for(lambda h: h.text.endswith(" Agreed."), timeout=20)


async def test_a_peer_refused_by_the_server_stops_dialling(client, network, norm, live, ticket_for, connect):
    amina = network["members"][0]
    dials: list[str] = []

    async def dial() -> tuple[str, str | None]:
        dials.append("dial")
        return live, await ticket_for(amina)

    writer = await connect(amina, reconnect=dial)
    handle = await writer.open(norm["url"])
    assert (await client.post("/api/v1/auth/logout", headers=amina["headers"])).status_code == 204
    code, reason = await asyncio.wait_for(asyncio.shield(writer.closed), 20)
    assert code == protocol.UNAUTHORIZED and "signed out" in reason
    try:
        await handle.wait_for(lambda h: False, timeout=5)
        raise AssertionError("waiting on a refused peer should fail")
    except SyncError as exc:
        assert "closed" in str(exc)
    assert dials == [] and writer.reconnects == 0


async def test_close_stops_a_peer_that_is_still_dialling(app, network, norm, live, ticket_for, connect):
    amina = network["members"][0]
    dials: list[str] = []

    async def dial() -> tuple[str, str | None]:
        dials.append("dial")
        raise OSError("the address does not answer")

    writer = await connect(amina, reconnect=dial)
    await writer.open(norm["url"])
    _drop(app, amina, protocol.GOING_AWAY)
    await _until(lambda: len(dials) >= 2)
    await asyncio.wait_for(writer.close(), 5)
    assert writer.closed.done() and not writer.online
    settled = len(dials)
    await asyncio.sleep(0.5)
    assert len(dials) == settled  # no dialling after close
