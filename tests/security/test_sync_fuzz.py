"""Hostile frames (tests/security/frames.py; 3,000 in CI, 10,000 and more from bench/sync_fuzz.py) against a real server socket:
the server never fails, closes only the socket that sent a bad frame (with a protocol close code, never 1011), answers
every frame it tolerates, and a well-behaved peer on another socket keeps editing throughout.

After each frame a probe (a `request` for a well-formed id of no document) must be answered with
`doc-unavailable` — or the socket closed — so every frame is known to have been read. Sockets the
server closed are reopened; a share of the frames comes from a signed-in member's socket, so the
store's checks of incoming changes are attacked too. COGOV_SYNC_FUZZ_FRAMES sets the count.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
import time

import automerge.core as am
import base58
import cbor2
import pytest
import websockets
from structlog.testing import CapturingLogger

from services.realtime import connection as connection_module
from services.realtime import hub as hub_module
from tests.fixtures.databases import ON_SQLITE
from tests.security.frames import mutate, valid_messages

pytestmark = [ON_SQLITE, pytest.mark.long]
SETTINGS = {"sync_max_messages_per_second": 1_000_000}  # the flood limit has its own test (tests/realtime)

FRAMES = int(os.environ.get("COGOV_SYNC_FUZZ_FRAMES", "3000"))  # CI; bench/sync_fuzz.py sends 10,000 and more
MEMBER_SHARE = 0.05
STREAMS = 4  # concurrent attackers, each with its own sockets
SEED = 20261122
PROTOCOL_CLOSES = {1003, 1007, 1008, 1009}
PEER = "hostile-peer"


class HostileSocket:
    """A socket that sends one frame at a time and learns whether the server read it."""

    def __init__(self, live: str, ticket_for=None, person: dict | None = None) -> None:
        self.live, self.ticket_for, self.person = live, ticket_for, person
        self.socket: websockets.ClientConnection | None = None
        self.server: str | None = None
        self.probe_id = base58.b58encode_check(os.urandom(16)).decode()
        self.probe_data = am.Document().generate_sync_message(am.SyncState()).encode()

    async def _open(self) -> None:
        url = self.live
        if self.person is not None:
            url += "?ticket=" + await self.ticket_for(self.person)
        self.socket = await websockets.connect(url, max_size=None)
        await self.socket.send(cbor2.dumps({"type": "join", "senderId": PEER, "peerMetadata": {}, "supportedProtocolVersions": ["1"]}))
        answer = cbor2.loads(await self.socket.recv())
        assert answer["type"] == "peer", answer
        self.server = answer["senderId"]

    async def server_id(self) -> str:
        if self.socket is None:
            await self._open()
        return self.server

    async def send(self, frame: bytes) -> int | None:
        """Send `frame`, then the probe; None when the probe was answered, else the close code."""
        if self.socket is None:
            await self._open()
        probe = {"type": "request", "senderId": PEER, "targetId": self.server, "documentId": self.probe_id, "data": self.probe_data}
        try:
            await self.socket.send(frame)
            await self.socket.send(cbor2.dumps(probe))
            async with asyncio.timeout(20):
                while True:
                    answer = cbor2.loads(await self.socket.recv())
                    if answer.get("type") == "doc-unavailable" and answer.get("documentId") == self.probe_id:
                        return None
        except websockets.ConnectionClosed:
            code = self.socket.close_code
            self.socket = None
            return code

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()


async def test_hostile_frames_close_only_their_socket(client, app, network, norm, live, connect, ticket_for, monkeypatch, caplog):
    captured = CapturingLogger()
    monkeypatch.setattr(connection_module, "log", captured)
    monkeypatch.setattr(hub_module, "log", captured)
    caplog.set_level(logging.ERROR)
    amina, bruno = network["members"][0], network["members"][1]
    good = await (await connect(amina)).open(norm["url"])
    wire_id = norm["url"].removeprefix("automerge:")
    saved = (await client.get(f"/api/v1/norms/{norm['id']}/automerge")).content

    first = HostileSocket(live)
    server = await first.server_id()
    await first.close()
    messages = valid_messages(PEER, server, wire_id, saved)
    closes: collections.Counter = collections.Counter()
    answered = 0

    async def attack(stream: int, count: int) -> None:
        """One stream of frames, from its own seed, over its own anonymous and member sockets."""
        nonlocal answered
        rng = random.Random(SEED + stream)
        anonymous, member = HostileSocket(live), HostileSocket(live, ticket_for, bruno)
        for _ in range(count):
            socket = member if rng.random() < MEMBER_SHARE else anonymous
            code = await socket.send(mutate(rng, rng.choice(messages), wire_id))
            if code is None:
                answered += 1
            else:
                closes[code] += 1
        await anonymous.close()
        await member.close()

    async def behave() -> None:
        """The well-behaved peer edits on, and is heard, while the attack lasts."""
        n = 0
        while True:
            n += 1
            await good.splice(0, 0, f"{n} ")
            await good.wait_synced(timeout=20)
            await asyncio.sleep(0.5)

    started = time.perf_counter()
    editing = asyncio.create_task(behave())
    await asyncio.gather(*(attack(stream, FRAMES // STREAMS) for stream in range(STREAMS)))
    assert not editing.done(), editing.exception()
    editing.cancel()
    elapsed = time.perf_counter() - started
    await good.wait_synced(timeout=20)
    print(f"\n{FRAMES} hostile frames in {elapsed:.1f} s: {answered} tolerated, closes by code {dict(closes)}")

    assert not good.client.closed.done(), "the well-behaved peer's socket was closed"
    assert set(closes) <= PROTOCOL_CLOSES, f"closes by code: {dict(closes)}"
    assert answered > FRAMES // 20 and sum(closes.values()) > FRAMES // 2  # both paths were exercised
    failures = [call for call in captured.calls if call.method_name in ("error", "exception", "critical")]
    assert not failures, failures[:5]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR], caplog.text[-3000:]
    # Nothing hostile was stored: the norm holds exactly what the well-behaved peer wrote.
    stored = (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]
    assert stored == good.text and "hostile text" not in stored
    # Closed sockets left nothing behind on the server.
    hub = app.state.sync_hub
    async with asyncio.timeout(10):
        while len(hub.connections) > 1:
            await asyncio.sleep(0.05)
    assert {connection.peer_id for connection in hub.connections} == {good.client.peer_id}
