"""Readers who follow a norm's text without the editor: what each is owed, as Server-Sent Events.

A reader is told the text once (or, reconnecting with the id of the last event it applied, only
what changed since), then one splice per fan-out round of the sync hub: the hub computes the
round's splice once for all readers of a document and each reader's bounded queue takes it. A
reader that does not drain its queue (a slow line, a stalled tab) never holds the others or the
hub: when its queue is full it is dropped to a single event holding the whole current text.

Every event's id names the document's heads after it (hex, comma-separated), so a client that
reconnects, to this instance or another, resumes from exactly what it holds. Indices on the wire
count UTF-16 code units, as JavaScript strings do.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sse_starlette import ServerSentEvent

from norms.diff import TextSplice

# Events one reader may have waiting before it is sent the whole text instead.
QUEUE_LIMIT = 32


def heads_id(heads: tuple[bytes, ...]) -> str:
    """The event id of a state: its heads in hex, sorted, comma-separated."""
    return ",".join(sorted(head.hex() for head in heads))


def heads_from_id(value: str | None) -> tuple[bytes, ...] | None:
    """The heads an event id (or a page's `since`) names; None if it is absent or malformed."""
    if not value or len(value) > 65 * 64:
        return None
    try:
        heads = tuple(bytes.fromhex(part) for part in value.split(","))
    except ValueError:
        return None
    if not heads or any(len(head) != 32 for head in heads):
        return None
    return tuple(sorted(heads))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class TextEvent:
    """One Server-Sent Event: `text` (the whole text and title) or `splice` (a change to the previous event's text)."""

    name: str
    id: str
    data: str

    @functools.cached_property
    def wire(self) -> bytes:
        """The event as sent: encoded once, however many readers it goes to."""
        return ServerSentEvent(data=self.data, event=self.name, id=self.id).encode()

    @classmethod
    def whole(cls, heads: tuple[bytes, ...], title: str, text: str, changes: int | None = None) -> TextEvent:
        """The whole text and title; `changes`, how many changes the document holds (the page's change count)."""
        body: dict[str, object] = {"title": title, "text": text}
        if changes is not None:
            body["changes"] = changes
        return cls("text", heads_id(heads), json.dumps(body, ensure_ascii=False))

    @classmethod
    def splice(
        cls, heads: tuple[bytes, ...], old_text: str, splice: TextSplice | None, title: str | None, changes: int | None = None
    ) -> TextEvent:
        """`splice` (code points of `old_text`) as the client applies it: UTF-16 offsets; `title` if it changed;
        `changes`, how many changes the document holds now."""
        body: dict[str, object] = {"index": 0, "delete": 0, "insert": ""}
        if splice is not None:
            body = {
                "index": utf16_length(old_text[: splice.index]),
                "delete": utf16_length(old_text[splice.index : splice.index + splice.delete]),
                "insert": splice.insert,
            }
        if title is not None:
            body["title"] = title
        if changes is not None:
            body["changes"] = changes
        return cls("splice", heads_id(heads), json.dumps(body, ensure_ascii=False))


@dataclass(eq=False)
class TextReader:
    """One reader's place: the state its last queued event ends at, and the events waiting to be sent."""

    heads: tuple[bytes, ...]
    address: str = ""  # the client's, for the limit of readers per address
    events: deque[TextEvent] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    resyncs: int = 0  # times its queue overflowed and was replaced by the whole text

    def push(self, event: TextEvent, heads: tuple[bytes, ...], whole: Callable[[], TextEvent] | None = None) -> bool:
        """Queue `event` (ending at `heads`); when the queue is full, `whole` replaces everything waiting.

        False if the reader was resynced (it overflowed)."""
        self.heads = heads
        if len(self.events) >= QUEUE_LIMIT and whole is not None:
            self.events.clear()
            self.events.append(whole())
            self.resyncs += 1
            self.ready.set()
            return False
        self.events.append(event)
        self.ready.set()
        return True

    async def next(self) -> TextEvent:
        """The next event to send, waiting for one."""
        while not self.events:
            self.ready.clear()
            await self.ready.wait()
        return self.events.popleft()
