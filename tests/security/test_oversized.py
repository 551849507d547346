"""Oversized input against a real `cogov serve` process: frames over the 8 MiB limit close with 1009; a
change or a saved document describing a million operations in about a kilobyte is refused (413 over
HTTP, 1009 over sync) before anything expands it, and the server's peak memory barely moves.

The million-operation inputs are in tests/security/data (made once by `make_million_ops`: rc1 takes
~20 s to write them); the server would need ~9 s and ~180 MiB to load the document if it did not
count operations from the compressed columns first.
"""

from __future__ import annotations

import os
from pathlib import Path

import cbor2
import httpx
import websockets
from sqlalchemy import func, select

from norms import document
from norms.models import NormChange
from services.realtime import sync_message
from services.realtime.client import SyncClient
from tests.fixtures.databases import ON_SQLITE
from tests.realtime.servers import CogovServer, close_of

pytestmark = ON_SQLITE

DATA = Path(__file__).parent / "data"
MIB = 2**20
PEAK_GROWTH_BOUND = 64 * MIB  # generous: refusing all of this costs the server a few MiB


def make_million_ops() -> None:
    """Write the inputs again (not run by the tests)."""
    doc, _ = document.create("Million", "", bytes.fromhex("c0ffee" * 5 + "00"))
    change = b"".join(document.apply_splices(doc, bytes.fromhex("bad0" * 8), [(0, 0, "x" * 1_000_000)]))
    (DATA / "million-ops.change").write_bytes(change)
    (DATA / "million-ops.automerge").write_bytes(doc.save())


def _memory(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as status:
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in status if line.startswith(("VmRSS", "VmHWM"))}


def _reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM := VmRSS


async def _joined(url: str):
    socket = await websockets.connect(url, max_size=None)
    await socket.send(cbor2.dumps({"type": "join", "senderId": "big", "peerMetadata": {}, "supportedProtocolVersions": ["1"]}))
    return socket, cbor2.loads(await socket.recv())["senderId"]


async def test_oversized_frames_and_million_operation_changes(app, network, norm, database_url, tmp_path):
    change, saved = (DATA / "million-ops.change").read_bytes(), (DATA / "million-ops.automerge").read_bytes()
    assert sum(c.ops for c in document.split_changes(change)) == 1_000_000 and len(change) < 2048
    amina, bruno = network["members"][0], network["members"][1]
    wire_id = norm["url"].removeprefix("automerge:")
    (tmp_path / "serve").mkdir()
    server = await CogovServer(database_url, tmp_path / "serve").start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:

            async def ticket(person: dict) -> str:
                return (await http.post("/api/v1/sync/tickets", headers=person["headers"])).json()["ticket"]

            good = await SyncClient.connect(server.sync_url, ticket=await ticket(bruno))
            handle = await good.open(norm["url"])
            async with app.state.sessionmaker() as session:
                stored_before = await session.scalar(select(func.count()).select_from(NormChange))
            pid = server.process.pid
            baseline = _memory(pid)["VmRSS"]
            _reset_peak(pid)

            upload = f"/api/v1/norms/{norm['id']}/automerge"
            for body in (change, saved, change * 3):
                refused = await http.post(upload, content=body, headers={"content-type": "application/octet-stream"} | amina["headers"])
                assert refused.status_code == 413 and refused.json()["code"] == "norm_too_large", refused.text

            for version, payload in ((sync_message.V1, change), (sync_message.V2, saved)):
                socket, server_id = await _joined(f"{server.sync_url}?ticket={await ticket(amina)}")
                data = sync_message.encode(sync_message.SyncMessage(version, (), (), (), (payload,)))
                await socket.send(
                    cbor2.dumps({"type": "sync", "senderId": "big", "targetId": server_id, "documentId": wire_id, "data": data})
                )
                code, reason = await close_of(socket, timeout=20)
                assert code == 1009 and "at most 100000 operations" in reason, (version, code, reason)

            for size in (8 * MIB + 1, 64 * MIB):
                socket, _server_id = await _joined(server.sync_url)
                try:
                    await socket.send(os.urandom(16) * (size // 16) + b"\x00" * (size % 16))
                except websockets.ConnectionClosed:
                    pass
                assert (await close_of(socket, timeout=20))[0] == 1009, size

            memory = _memory(pid)
            print(f"\nserver RSS {baseline / MIB:.0f} MiB before, peak {memory['VmHWM'] / MIB:.0f} MiB while refusing")
            assert memory["VmHWM"] - baseline < PEAK_GROWTH_BOUND
            # The well-behaved peer was not disturbed, and nothing was stored.
            await handle.splice(0, 0, "Still editing. ")
            await handle.wait_synced()
            assert not good.closed.done()
            await good.close()
        async with app.state.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(NormChange)) == stored_before + 1
    finally:
        server.stop()
