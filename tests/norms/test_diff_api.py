"""Diffs over HTTP: computed off the event loop, kept per pair of points in history."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from norms import diff as text_diff
from norms import document
from norms.models import NormVersion
from tests.norms.test_versions_api import _edit, _tag


def _words(seed: int, count: int) -> str:
    rng = random.Random(seed)
    return " ".join("".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 8))) for _ in range(count)) + "."


async def _diffs_counted(client) -> dict[tuple[str, str], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.labels["kind"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "cogov_diffs"
        for sample in family.samples
        if sample.name == "cogov_diffs_total"
    }


async def test_health_answers_while_a_diff_of_two_large_versions_runs(client, network, norm, monkeypatch):
    amina = network["members"][0]
    old, new = _words(1, 2000), _words(2, 2000)  # two large texts with no word in common place
    await _edit(client, norm, amina, (0, len(norm["text"]), old))
    await _tag(client, norm, amina, "Long")
    await _edit(client, norm, amina, (0, len(old), new))
    await _tag(client, norm, amina, "Rewritten")
    # The diff holds until /healthz has answered, or 10 s: on the event loop, it would hold /healthz with it.
    started, release, word_diff = threading.Event(), threading.Event(), text_diff.word_diff
    released = []

    def held_word_diff(*args, **kwargs):
        started.set()
        released.append(release.wait(10))
        return word_diff(*args, **kwargs)

    monkeypatch.setattr(text_diff, "word_diff", held_word_diff)
    answered = []

    async def request(path: str, **params):
        response = await client.get(path, params=params)
        answered.append(path)
        return response

    diffing = asyncio.create_task(request(f"/api/v1/norms/{norm['id']}/diff", **{"from": "1", "to": "2"}))
    await asyncio.to_thread(started.wait, 10)
    health = await request("/healthz")
    release.set()
    diff = await diffing

    assert released == [True], "the diff held the event loop: /healthz could not answer until it gave up waiting"
    assert answered == ["/healthz", f"/api/v1/norms/{norm['id']}/diff"]
    assert health.status_code == 200 and diff.status_code == 200, diff.text
    segments = diff.json()["segments"]
    assert "".join(s["text"] for s in segments if s["op"] != "insert") == old
    assert "".join(s["text"] for s in segments if s["op"] != "delete") == new


async def test_a_pair_of_versions_is_diffed_once_and_current_by_its_heads(client, network, norm):
    amina = network["members"][0]
    await _tag(client, norm, amina, "First")
    await _edit(client, norm, amina, (10, 7, "disclose"))
    await _tag(client, norm, amina, "Second")
    path = f"/api/v1/norms/{norm['id']}/diff"
    before = await _diffs_counted(client)

    first = await client.get(path, params={"from": "1", "to": "2"})
    again = await client.get(path, params={"from": "1", "to": "2"})
    by_heads = await client.get(path, params={"from": ",".join(norm["heads"]), "to": "current"})  # v2 is the current text
    unified = [await client.get(path, params={"from": "v1", "to": "v2", "format": "unified"}) for _ in range(2)]

    assert first.json()["segments"] == again.json()["segments"] == by_heads.json()["segments"]
    assert unified[0].text == unified[1].text and unified[0].text.startswith("--- v1\n+++ v2\n")
    counted = await _diffs_counted(client)
    assert counted.get(("words", "computed"), 0) - before.get(("words", "computed"), 0) == 1
    assert counted.get(("words", "kept"), 0) - before.get(("words", "kept"), 0) == 2
    assert counted.get(("unified", "computed"), 0) - before.get(("unified", "computed"), 0) == 1
    assert counted.get(("unified", "kept"), 0) - before.get(("unified", "kept"), 0) == 1

    # "current" is the text at its heads now: an edit makes it another text, diffed anew.
    await _edit(client, norm, amina, (0, 0, "All "))
    now = (await client.get(path, params={"from": "1", "to": "current"})).json()
    assert "".join(s["text"] for s in now["segments"] if s["op"] != "delete") == "All Platforms disclose their ranking criteria."
    assert (await _diffs_counted(client)).get(("words", "computed"), 0) - before.get(("words", "computed"), 0) == 2


async def test_a_diff_of_two_versions_and_a_version_read_their_stored_texts(app, client, network, norm, monkeypatch):
    amina = network["members"][0]
    await _tag(client, norm, amina, "First")
    await _edit(client, norm, amina, (10, 7, "disclose"))
    await _tag(client, norm, amina, "Second")
    await _edit(client, norm, amina, (0, 0, "All "))
    # A read of the document holds the GIL throughout (rc1): versions are answered without one.
    reads, read_text = [], document.read_text

    def recorded_read_text(*args, **kwargs):
        reads.append(args[1:] or kwargs)
        return read_text(*args, **kwargs)

    monkeypatch.setattr(document, "read_text", recorded_read_text)

    diff = await client.get(f"/api/v1/norms/{norm['id']}/diff", params={"from": "1", "to": "2"})
    unified = await client.get(f"/api/v1/norms/{norm['id']}/diff", params={"from": "v1", "to": "v2", "format": "unified"})
    first = await client.get(f"/api/v1/norms/{norm['id']}/versions/1")

    assert diff.status_code == unified.status_code == first.status_code == 200, diff.text
    assert "".join(s["text"] for s in diff.json()["segments"] if s["op"] != "insert") == "Platforms publish their ranking criteria."
    assert "".join(s["text"] for s in diff.json()["segments"] if s["op"] != "delete") == "Platforms disclose their ranking criteria."
    assert first.json()["text"] == "Platforms publish their ranking criteria."
    assert reads == []
    # "current" is the document's text now.
    now = await client.get(f"/api/v1/norms/{norm['id']}/diff", params={"from": "2", "to": "current"})
    assert "".join(s["text"] for s in now.json()["segments"] if s["op"] != "delete") == "All Platforms disclose their ranking criteria."
    assert len(reads) == 1

    async with app.state.sessionmaker() as session:
        stored = (await session.scalars(select(NormVersion))).all()
    assert [hashlib.sha256(version.text.encode()).hexdigest() for version in stored] == [version.text_sha256 for version in stored]
