"""A stock `@automerge/automerge-repo` client (npm, written by no one here) is a full peer."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from tests.jspeer import ROOT, need_js_peer

REPO_PEER = ROOT / "tests" / "js" / "repo-peer.mjs"
REPO_PACKAGE = ROOT / "node_modules" / "@automerge" / "automerge-repo-network-websocket" / "package.json"


async def _lines(process: asyncio.subprocess.Process):
    while line := await process.stdout.readline():
        yield json.loads(line)


async def test_js_repo_client_and_python_peer_edit_each_other(client, network, norm, connect, live, ticket_for):
    need_js_peer()
    assert Path(REPO_PACKAGE).is_file(), "run npm ci: @automerge/automerge-repo-network-websocket is missing"
    amina, bruno = network["members"][0], network["members"][1]
    python = await (await connect(bruno)).open(norm["url"])

    process = await asyncio.create_subprocess_exec(
        shutil.which("node"),
        str(REPO_PEER),
        f"{live}?ticket={await ticket_for(amina)}",
        norm["url"],
        "JS was here. ",
        "Python answers.",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        events = _lines(process)
        async with asyncio.timeout(30):
            found = await anext(events)
            assert found == {"event": "found", "text": "Platforms publish their ranking criteria."}
            assert (await anext(events))["event"] == "edited"

            await python.wait_for(lambda handle: handle.text.startswith("JS was here. "))
            await python.splice(len(python.text), 0, " Python answers.")

            saw = await anext(events)
            assert saw["event"] == "saw"
            assert saw["text"] == "JS was here. Platforms publish their ranking criteria. Python answers."
            assert await process.wait() == 0, (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    stored = await client.get(f"/api/v1/norms/{norm['id']}")
    assert stored.json()["text"] == "JS was here. Platforms publish their ranking criteria. Python answers."
    history = (await client.get(f"/api/v1/norms/{norm['id']}/history")).json()["items"]
    assert {entry["participant"]["display_name"] for entry in history} >= {"Amina", "Bruno"}
