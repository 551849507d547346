"""Replay a real concurrent editing trace through the server: every peer and the store converge.

`clownschool.json.gz` (see ../shared/data/traces/README.md) records people typing into one
document at once. Each agent types from its own peer, signed in as its own member; a transaction
is applied to exactly the document state it was typed on (its `parents`), which the peer reaches
only with changes that came back through the server.

By default the first PREFIX transactions are replayed (about 20 s) and every peer and the stored
norm must equal the document all those changes make; with COGOV_FULL_TRACE=1 all 23,136 are (a few
minutes) and the text must be the trace's `endContent`.
"""

from __future__ import annotations

import asyncio
import os

from norms import document
from norms.store import topological
from tests.fixtures.environment import load_trace

FULL = os.environ.get("COGOV_FULL_TRACE") == "1"
PREFIX = 3000


class Agent:
    def __init__(self, index: int, handle, trace: dict, produced: dict[int, bytes]) -> None:
        self.index = index
        self.handle = handle
        self.txns = trace["txns"]
        self.base_heads = set(handle.doc.get_heads())
        self.editing = document.load(handle.doc.save())  # exactly at each transaction's parents
        self.applied: set[int] = set()
        self.produced = produced  # trace index -> (hash, change bytes), shared by all agents

    def _through_server(self, index: int) -> bool:
        made = self.produced.get(index)
        return made is not None and self.handle.has_change(made[0])

    async def run(self) -> None:
        for i, txn in enumerate(self.txns):
            if txn["agent"] != self.index:
                continue
            parents = txn["parents"]
            if not all(self._through_server(p) for p in parents):
                await self.handle.flush()
                await self.handle.wait_for(lambda _h, parents=parents: all(self._through_server(p) for p in parents), timeout=300)
            self._reach(parents)
            made = document.apply_splices(self.editing, self.handle.actor, [tuple(patch) for patch in txn["patches"]])
            (change,) = document.split_changes(b"".join(made))
            self.produced[i] = (change.hash, change.data)
            self.applied.add(i)
            await self.handle.add_changes(change.data, send=False)
        await self.handle.flush()

    def _reach(self, parents: list[int]) -> None:
        """Merge into the editing replica every ancestor of `parents` it lacks, and nothing more."""
        needed, stack = [], list(parents)
        while stack:
            p = stack.pop()
            if p in self.applied:
                continue
            self.applied.add(p)
            needed.append(p)
            stack.extend(self.txns[p]["parents"])
        if needed:
            changes = document.split_changes(b"".join(self.produced[p][1] for p in needed))
            document.merge_changes(self.editing, topological(changes))
        expected = {self.produced[p][0] for p in parents} or self.base_heads
        assert set(self.editing.get_heads()) == expected


async def test_concurrent_trace_converges_through_the_server(client, network, connect):
    trace = load_trace("clownschool.json.gz")
    if not FULL:
        trace["txns"] = trace["txns"][:PREFIX]
    created = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Clown school", "text": ""}, headers=network["members"][0]["headers"]
    )
    assert created.status_code == 201, created.text
    norm = created.json()

    produced: dict[int, tuple[bytes, bytes]] = {}
    handles = [await (await connect(network["members"][a])).open(norm["url"]) for a in range(trace["numAgents"])]
    base = handles[0].doc.save()
    agents = [Agent(a, handles[a], trace, produced) for a in range(trace["numAgents"])]
    async with asyncio.timeout(600):
        await asyncio.gather(*(agent.run() for agent in agents))
        everything = {made[0] for made in produced.values()}
        for handle in handles:
            await handle.wait_for(lambda h: all(h.has_change(change) for change in everything), timeout=60)
            await handle.wait_synced(timeout=300)

    if FULL:
        expected = trace["endContent"]
    else:
        # What the changes make when merged without the server.
        expected = document.read_text(document.load(base + b"".join(produced[i][1] for i in sorted(produced))))
    for handle in handles:
        assert handle.text == expected
    stored = await client.get(f"/api/v1/norms/{norm['id']}")
    assert stored.json()["text"] == expected
    assert stored.json()["change_count"] == len(trace["txns"]) + 1
