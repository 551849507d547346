"""Presence between two stock automerge-repo clients: each hears the other and keeps its socket.

Stock peers pass every ephemeral message they hear on to their other peers (here: the server)
under its author's senderId. The server drops those copies, without relaying them and without
closing the socket that forwarded them.
"""

from __future__ import annotations

import asyncio
import json
import shutil

from structlog.testing import CapturingLogger

from services.realtime import connection as connection_module
from tests.fixtures.databases import ON_SQLITE
from tests.jspeer import ROOT, need_js_peer

PRESENCE_PEER = ROOT / "tests" / "js" / "presence-peer.mjs"

pytestmark = ON_SQLITE


async def _run(live: str, ticket: str, url: str, name: str, listen_for: str) -> list[dict]:
    process = await asyncio.create_subprocess_exec(
        shutil.which("node"),
        str(PRESENCE_PEER),
        f"{live}?ticket={ticket}",
        url,
        name,
        listen_for,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(40):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


async def test_two_stock_peers_hear_each_others_presence(network, norm, live, ticket_for, connect, monkeypatch):
    need_js_peer()
    captured = CapturingLogger()
    monkeypatch.setattr(connection_module, "log", captured)
    amina, bruno = network["members"][0], network["members"][1]
    watcher = await (await connect(network["members"][2])).open(norm["url"])

    amina_events, bruno_events = await asyncio.gather(
        _run(live, await ticket_for(amina), norm["url"], "Amina", "Bruno"),
        _run(live, await ticket_for(bruno), norm["url"], "Bruno", "Amina"),
    )

    for events, other in ((amina_events, "Bruno"), (bruno_events, "Amina")):
        done = events[-1]
        assert done["event"] == "done" and done["heard"] >= 3, events
        assert {event["message"]["name"] for event in events if event["event"] == "heard"} == {other}
        # One socket from start to end: the server never closed it (the adapter would have reconnected).
        assert done["joins"] == 1 and done["disconnects"] == 0, events
    # The stock peers' forwarded copies reached the server and were dropped there, with a log line.
    dropped = [call for call in captured.calls if call.args == ("sync.foreign_ephemeral_dropped",)]
    assert dropped, [call.args for call in captured.calls]
    assert not [call for call in captured.calls if call.args == ("sync.closing",) and call.kwargs["code"] != 1000]
    # A third peer hears each author once per message: dropped copies are never relayed again.
    heard = [(sender, payload["cursor"]) for sender, payload in watcher.ephemeral]
    assert {payload["name"] for _sender, payload in watcher.ephemeral} == {"Amina", "Bruno"}
    assert len(heard) == len(set(heard))
