"""Presence is relayed and never stored; idle documents leave memory; staff see sync stats; `cogov sync-cat`."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import automerge.core as am
import pytest
from sqlalchemy import update

from norms.document import document_url
from services.accounts.models import Participant, Role
from services.realtime.client import DocumentHandle
from tests.fixtures.accounts import enrol_two_factor
from tests.fixtures.app import TEST_SECRET


@pytest.fixture
def quick_eviction(settings):
    """Documents leave memory 0.3 s after their last peer; rooms are looked after every 0.1 s (request it before `app`)."""
    settings.document_idle_seconds = 0.3
    settings.sync_catch_up_seconds = 0.1


async def test_presence_reaches_the_other_peers_and_is_not_stored(client, network, norm, connect):
    amina_client = await connect(network["members"][0])
    amina = await amina_client.open(norm["url"])
    bruno = await (await connect(network["members"][1])).open(norm["url"])
    reader = await (await connect()).open(norm["url"])
    presence = {"participant": network["members"][0]["id"], "name": "Amina", "colour": "#c0392b", "cursor": 9, "selection": [9, 17]}
    await amina.send_ephemeral(presence)
    for handle in (bruno, reader):
        await handle.wait_for(lambda h: bool(h.ephemeral))
        assert handle.ephemeral == [(amina_client.peer_id, presence)]
    await reader.send_ephemeral({"participant": None, "name": "Guest", "colour": "#888", "cursor": 0, "selection": None})
    await amina.wait_for(lambda h: bool(h.ephemeral))
    assert amina.ephemeral[0][1]["name"] == "Guest"
    assert len(bruno.ephemeral) == 2
    history = (await client.get(f"/api/v1/norms/{norm['id']}/history")).json()["items"]
    assert len(history) == 1  # only the change that created the norm


async def test_idle_documents_leave_memory_and_staff_see_stats(quick_eviction, app, client, network, norm, connect):
    staff = network["members"][2]
    async with app.state.sessionmaker() as session:
        await session.execute(update(Participant).where(Participant.id == uuid.UUID(staff["id"])).values(role=Role.staff))
        await session.commit()
    await enrol_two_factor(client, staff, app.state.clock.now())
    assert (await client.get("/api/v1/sync/stats", headers=network["members"][0]["headers"])).status_code == 403

    peer = await connect(network["members"][0])
    await peer.open(norm["url"])
    await asyncio.sleep(0.5)  # longer than the idle time: a document with a peer stays
    stats = (await client.get("/api/v1/sync/stats", headers=staff["headers"])).json()
    assert stats["connections"] == 1 and stats["resident_documents"] == 1
    (resident,) = stats["documents"]
    assert resident["url"] == norm["url"] and resident["peers"] == 1 and resident["approx_bytes"] > 0

    await peer.close()
    async with asyncio.timeout(10):
        while (await client.get("/api/v1/sync/stats", headers=staff["headers"])).json()["resident_documents"]:
            await asyncio.sleep(0.1)
    # It loads again on first use.
    again = await (await connect()).open(norm["url"])
    assert again.text == "Platforms publish their ranking criteria."


async def test_presence_for_an_unknown_document_is_unavailable(connect):
    peer = await connect()
    handle_url = document_url(uuid.uuid4().bytes)
    handle = DocumentHandle(peer, handle_url.removeprefix("automerge:"), am.Document())
    peer.documents[handle.wire_id] = handle
    await handle.send_ephemeral({"cursor": 1})
    with pytest.raises(Exception, match="unavailable"):
        async with asyncio.timeout(5):
            await handle.ready


async def test_sync_cat_prints_the_text_and_follows_it(client, network, norm, live, database_url, tmp_path):
    server = "http://" + live.removeprefix("ws://").split("/")[0]
    env = {**os.environ, "COGOV_DATABASE_URL": database_url, "COGOV_SECRET_KEY": TEST_SECRET, "COGOV_DATA_DIR": str(tmp_path)}
    once = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "sync-cat",
        norm["url"],
        "--server",
        server,
        "--once",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await once.communicate()
    assert once.returncode == 0, err.decode()
    assert out.decode() == "Platforms publish their ranking criteria.\n"

    follow = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "sync-cat",
        norm["url"],
        "--server",
        server,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        async with asyncio.timeout(30):
            assert await follow.stdout.readline() == b"Platforms publish their ranking criteria.\n"
            edited = await client.post(
                f"/api/v1/norms/{norm['id']}/edits",
                json={"splices": [{"index": 0, "delete": 0, "insert": "Live: "}]},
                headers=network["members"][0]["headers"],
            )
            assert edited.status_code == 200
            assert await follow.stdout.readline() == b"\f\n"
            assert await follow.stdout.readline() == b"Live: Platforms publish their ranking criteria.\n"
    finally:
        follow.kill()
        await follow.wait()
