"""The live text of a norm for readers, as Server-Sent Events over a real HTTP connection: the whole text,
then splices as members write (over the sync socket or the REST edit API), resumed by Last-Event-ID;
readers who go away are dropped and counted; a reader that does not keep up gets the whole text again."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client import REGISTRY

from services.realtime.readers import QUEUE_LIMIT, TextEvent, TextReader
from tests.fixtures.app import served

# Two live texts per client address: the tests' readers all come from 127.0.0.1.
SETTINGS = {"sync_anonymous_per_address": 2}


@dataclass
class Event:
    name: str
    id: str
    data: dict


class Reader:
    """A Server-Sent Events client that keeps the text as a browser's reader script would (UTF-16 offsets)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.text = ""
        self.title = ""
        self.last_id = ""

    async def next(self, timeout: float = 10) -> Event:
        name, event_id, data = "message", "", []
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if line == "":
                    if data:
                        break
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    name = value
                elif field == "id":
                    event_id = value
                elif field == "data":
                    data.append(value)
        event = Event(name, event_id, json.loads("\n".join(data)))
        self.apply(event)
        return event

    def apply(self, event: Event) -> None:
        if event.name == "text":
            self.text, self.title = event.data["text"], event.data["title"]
        elif event.name == "splice":
            units = self.text.encode("utf-16-le")
            index, delete = event.data["index"] * 2, event.data["delete"] * 2
            self.text = (units[:index] + event.data["insert"].encode("utf-16-le") + units[index + delete :]).decode("utf-16-le")
            self.title = event.data.get("title", self.title)
        self.last_id = event.id

    async def until(self, text: str, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while self.text != text:
                await self.next(timeout)


@asynccontextmanager
async def reading(base: str, norm_id: str, *, path: str | None = None, **headers: str) -> AsyncIterator[Reader]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as http:
        async with http.stream("GET", f"{base}{path or f'/api/v1/norms/{norm_id}/text/events'}", headers=headers) as response:
            yield Reader(response)


def _base(live: str) -> str:
    return live.replace("ws://", "http://").removesuffix("/api/v1/sync")


def _left() -> float:
    return REGISTRY.get_sample_value("cogov_text_readers_disconnected_total") or 0.0


async def _until(condition, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_reader_follows_members_typing_arabic_beside_english(app, client, network, norm, live, connect):
    amina = network["members"][0]
    async with reading(_base(live), norm["id"]) as reader:
        assert reader.response.status_code == 200
        assert reader.response.headers["content-type"].startswith("text/event-stream")
        first = await reader.next()
        assert first.name == "text"
        assert reader.text == "Platforms publish their ranking criteria." and reader.title == norm["title"]
        assert first.id == ",".join(sorted(norm["heads"]))

        # A member types over the sync socket: Arabic, and a character outside the BMP (two UTF-16 units).
        handle = await (await connect(amina)).open(norm["url"])
        await handle.splice(len(handle.text), 0, "\n(المادة 3، الفقرة 2).")
        await reader.until("Platforms publish their ranking criteria.\n(المادة 3، الفقرة 2).")
        await handle.splice(0, 0, "🌍 ")
        await handle.splice(len(handle.text), 0, " Done.")
        await reader.until("🌍 Platforms publish their ranking criteria.\n(المادة 3، الفقرة 2). Done.")

        # And through the REST edit API, with a new title.
        edited = await client.post(
            f"/api/v1/norms/{norm['id']}/edits",
            json={"splices": [{"index": 2, "delete": 9, "insert": "Services"}], "title": "شفافية"},
            headers=amina["headers"],
        )
        assert edited.status_code == 200, edited.text
        stored = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
        await reader.until(stored["text"])
        assert reader.title == "شفافية"
        assert reader.last_id == ",".join(sorted(stored["heads"]))


async def test_a_translation_s_readers_follow_its_translators(client, network, norm, live, connect):
    amina = network["members"][0]
    tagged = await client.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "First"}, headers=amina["headers"])
    assert tagged.status_code == 201, tagged.text
    api = f"/api/v1/norms/{norm['id']}/versions/1/translations"
    started = await client.post(api, json={"language": "ar"}, headers=amina["headers"])
    assert started.status_code == 201, started.text
    translation = started.json()
    async with reading(_base(live), norm["id"], path=f"{api}/ar/text/events") as reader:
        assert reader.response.status_code == 200
        await reader.next()
        assert reader.text == "Platforms publish their ranking criteria."  # the copy of the original, to translate
        handle = await (await connect(amina)).open(translation["url"])
        await handle.splice(0, len(handle.text), "تنشر المنصات معايير الترتيب.")
        await reader.until("تنشر المنصات معايير الترتيب.")
    # The norm's own readers see none of it.
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == "Platforms publish their ranking criteria."
    async with httpx.AsyncClient(base_url=_base(live)) as http:
        for missing in (f"{api}/fr/text/events", f"/api/v1/norms/{norm['id']}/versions/9/translations/ar/text/events"):
            refused = await http.get(missing)
            assert refused.status_code == 404 and refused.json()["code"] == "translation_not_found"


async def _nothing(scope, receive, send) -> None:  # an ASGI app that serves nothing
    return None


async def test_servers_a_test_stops_out_of_order_leave_the_processs_readers_connected(norm, live):
    """Test servers stopped out of order (a subscriber down while the app serves) leave the process's signal
    handlers as they were, so later event streams in the same process keep flowing."""
    before = signal.getsignal(signal.SIGTERM)
    first, second = served(_nothing), served(_nothing)
    await first.__aenter__()
    await second.__aenter__()
    await first.__aexit__(None, None, None)
    await second.__aexit__(None, None, None)
    assert signal.getsignal(signal.SIGTERM) == before

    async with reading(_base(live), norm["id"]) as reader:
        assert (await reader.next()).name == "text"
        # Still open past sse-starlette's shutdown check (every 0.5 s): no event, and not the end of the stream.
        with pytest.raises(TimeoutError):
            await reader.next(timeout=1.5)


async def test_a_reader_resumes_from_its_last_event_and_a_stranger_id_gets_the_whole_text(client, network, norm, live):
    amina = network["members"][0]
    base = _base(live)
    async with reading(base, norm["id"]) as reader:
        await reader.next()
        held = reader.last_id
    edit = {"splices": [{"index": 0, "delete": 0, "insert": "Meanwhile: "}]}
    assert (await client.post(f"/api/v1/norms/{norm['id']}/edits", json=edit, headers=amina["headers"])).status_code == 200

    async with reading(base, norm["id"], **{"Last-Event-ID": held}) as resumed:
        resumed.text, resumed.title = reader.text, reader.title
        event = await resumed.next()
        # With the document's change count now (the page's "2 changes": the norm's first text and this edit).
        assert event.name == "splice" and event.data == {"index": 0, "delete": 0, "insert": "Meanwhile: ", "changes": 2}
        assert resumed.text == "Meanwhile: Platforms publish their ranking criteria."

    for stranger in ("not-hex", "ab" * 32, "", "," * 10, "zz" * 5000):
        async with reading(base, norm["id"], **{"Last-Event-ID": stranger}) as again:
            event = await again.next()
            assert event.name == "text" and again.text == "Meanwhile: Platforms publish their ranking criteria."


async def test_bad_requests_and_too_many_readers_from_one_address_are_refused_and_readers_who_leave_are_dropped_and_counted(
    app, client, norm, live
):
    base = _base(live)
    async with httpx.AsyncClient() as http:
        missing = await http.get(f"{base}/api/v1/norms/00000000-0000-0000-0000-000000000000/text/events")
        assert missing.status_code == 404 and missing.json()["code"] == "norm_not_found"
        malformed = await http.get(f"{base}/api/v1/norms/not-a-norm/text/events")
        assert malformed.status_code == 422

    hub = app.state.sync_hub
    left = _left()
    async with reading(base, norm["id"]) as first, reading(base, norm["id"]) as second:
        await first.next()
        await second.next()
        assert hub.reader_count == 2
        metrics = (await client.get("/metrics")).text
        assert "cogov_text_readers 2.0" in metrics
        async with httpx.AsyncClient() as http:
            third = await http.get(f"{base}/api/v1/norms/{norm['id']}/text/events")
        assert third.status_code == 429 and third.json()["code"] == "rate_limited" and "from your address" in third.json()["detail"]
    # Both went away without a word: the server notices, forgets them, counts them and closes the room.
    await _until(lambda: hub.reader_count == 0)
    await _until(lambda: _left() == left + 2)
    assert not hub.rooms


def test_a_reader_that_does_not_keep_up_is_sent_the_whole_text_instead_of_a_growing_queue():
    reader = TextReader(heads=(b"\0" * 32,))
    heads = [(bytes([n]) * 32,) for n in range(1, QUEUE_LIMIT + 3)]
    for n, state in enumerate(heads):
        whole = TextEvent.whole(state, "Title", f"text {n}")
        assert reader.push(TextEvent.splice(state, "text", None, None), state, lambda whole=whole: whole) == (n != QUEUE_LIMIT)
    assert len(reader.events) == 2 and reader.resyncs == 1
    assert [event.name for event in reader.events] == ["text", "splice"]
    assert json.loads(reader.events[0].data) == {"title": "Title", "text": f"text {QUEUE_LIMIT}"}
