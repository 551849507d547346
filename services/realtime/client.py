"""A small asyncio automerge-repo peer: join, open documents, sync, send and hear ephemeral messages.

It speaks the same protocol as `@automerge/automerge-repo-network-websocket`, so it works against
this server or any automerge-repo sync server. Used by the tests, `bench/realtime.py` and
`cogov sync-cat`.

    client = await SyncClient.connect("ws://127.0.0.1:8000/api/v1/sync", ticket=ticket)
    handle = await client.open("automerge:…")
    await handle.splice(0, 0, "Hello ")
    await handle.wait_synced()

With `reconnect=` (a coroutine function giving the next address and ticket to try) the peer
survives a dropped socket as automerge-repo's WebSocket adapter does: it dials again with
backoff, joins, and syncs every open document afresh; edits made meanwhile wait in the replica.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import quote

import automerge.core as am
import cbor2
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from norms import document
from services.realtime import sync_message


class SyncError(Exception):
    """The server refused the connection or the document, or closed the socket."""


class DocumentUnavailable(SyncError):
    """The server has no such document, or this peer may not read it."""


# The next (sync address, ticket or None) to dial after the socket drops.
Dial = Callable[[], Awaitable[tuple[str, str | None]]]

# Closes that say the peer itself was refused: dialling again would only be refused again.
REFUSED = frozenset({1003, 1007, 1008, 1009, 4401, 4403})
RECONNECT_FIRST_DELAY = 0.1
RECONNECT_LONGEST_DELAY = 2.0


class SyncClient:
    def __init__(
        self, websocket: ClientConnection, peer_id: str, reconnect: Dial | None = None, origin: str | None = None, timeout: float = 10
    ) -> None:
        self.websocket = websocket
        self.peer_id = peer_id
        self.server_id: str | None = None
        self.documents: dict[str, DocumentHandle] = {}
        self.errors: list[str] = []
        # Set once the client is done for good: closed by us, by a refusing server, or (without
        # `reconnect`) by any drop of the socket.
        self.closed: asyncio.Future[tuple[int | None, str]] = asyncio.get_running_loop().create_future()
        self.online = True
        self.reconnects = 0  # sockets opened after the first
        self.drops: list[tuple[int | None, str]] = []  # (code, reason) of each socket lost and dialled again
        self._reconnect = reconnect
        self._origin = origin
        self._timeout = timeout
        self._closing = False
        self._reader: asyncio.Task[None] | None = None
        self._redialer: asyncio.Task[None] | None = None
        self._session = uuid.uuid4().hex[:12]
        self._count = 0

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        ticket: str | None = None,
        peer_id: str | None = None,
        origin: str | None = None,
        timeout: float = 10,
        reconnect: Dial | None = None,
    ) -> SyncClient:
        """Open the socket, join, and wait for the server's `peer` answer.

        With `reconnect`, a dropped socket is dialled again (at the address and with the ticket it
        gives) until `close()`, and every open document syncs again.
        """
        peer_id = peer_id or f"py-{uuid.uuid4().hex[:12]}"
        websocket, server_id = await _handshake(url, ticket, peer_id, origin, timeout)
        client = cls(websocket, peer_id, reconnect, origin, timeout)
        client.server_id = server_id
        client._reader = asyncio.create_task(client._read())
        return client

    async def open(self, url: str, local: am.Document | None = None, timeout: float = 10) -> DocumentHandle:
        """Sync the document with the server and return its handle once the server has answered.

        `local` continues from a replica kept from an earlier connection (its unsent changes go up).
        """
        wire_id = url.removeprefix(document.URL_PREFIX)
        handle = DocumentHandle(self, wire_id, local if local is not None else am.Document())
        self.documents[wire_id] = handle
        await handle._sync(request=not handle.doc.get_heads())
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(handle.ready)
        except TimeoutError:
            raise SyncError(f"no answer for {url} within {timeout} s") from None
        return handle

    async def close(self) -> None:
        self._closing = True
        if self._redialer is not None:
            self._redialer.cancel()
            await asyncio.gather(self._redialer, return_exceptions=True)
        await self.websocket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self._finish(self.websocket.close_code, self.websocket.close_reason or "")

    async def __aenter__(self) -> SyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _send(self, message: dict[str, object]) -> None:
        try:
            await self.websocket.send(cbor2.dumps(message))
        except websockets.ConnectionClosed:
            if self._reconnect is None or self._closing:
                raise
            # The reader notices too and dials again; what was not sent is synced then.
            self.online = False

    async def _read(self) -> None:
        # Frames are read as they come and handled in order; sync messages for one document that
        # piled up while an earlier one was handled are taken in together (one pass of rc1, whose
        # cost grows with the history, instead of one per message).
        inbox: deque[bytes | None] = deque()
        arrived = asyncio.Event()

        async def pump() -> None:
            try:
                async for frame in self.websocket:
                    inbox.append(frame if isinstance(frame, bytes) else frame.encode())  # the protocol's frames are binary
                    arrived.set()
            except websockets.ConnectionClosed:
                pass
            finally:
                inbox.append(None)
                arrived.set()

        pumping = asyncio.get_running_loop().create_task(pump())
        try:
            while True:
                while not inbox:
                    arrived.clear()
                    await arrived.wait()
                frame = inbox.popleft()
                if frame is None:
                    break
                message = cbor2.loads(frame)
                kind = message.get("type")
                handle = self.documents.get(message.get("documentId", ""))
                if kind == "error":
                    self.errors.append(message.get("message", ""))
                elif handle is None:
                    continue
                elif kind in ("sync", "request"):
                    batch = [message["data"]]
                    while inbox and inbox[0] is not None:
                        following = cbor2.loads(inbox[0])
                        if following.get("type") != "sync" or following.get("documentId") != message.get("documentId"):
                            break
                        inbox.popleft()
                        batch.append(following["data"])
                    combined = _combine(batch) if len(batch) > 1 else batch[0]
                    for data in [combined] if combined is not None else batch:
                        await handle._receive(data)
                elif kind == "doc-unavailable":
                    handle._unavailable()
                elif kind == "ephemeral":
                    handle._hear(message)
        finally:
            pumping.cancel()
            self.online = False
            code = self.websocket.close_code
            reason = self.websocket.close_reason or ""
            if self._reconnect is not None and not self._closing and code not in REFUSED:
                self.drops.append((code, reason))
                self._redialer = asyncio.get_running_loop().create_task(self._redial(self._reconnect))
            else:
                self._finish(code, reason)

    def _finish(self, code: int | None, reason: str) -> None:
        if self.closed.done():
            return
        self.closed.set_result((code, reason))
        for handle in self.documents.values():
            handle._disconnected(code, reason)

    async def _redial(self, reconnect: Dial) -> None:
        """Dial until a socket joins, with doubling waits; then sync every open document from scratch."""
        delay = RECONNECT_FIRST_DELAY
        while not self._closing:
            try:
                url, ticket = await reconnect()
                websocket, server_id = await _handshake(url, ticket, self.peer_id, self._origin, self._timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, reset, timed out, no ticket to be had: the server may be restarting
                self.errors.append(f"reconnect: {exc!r}")
                del self.errors[:-100]
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_LONGEST_DELAY)
                continue
            self.websocket, self.server_id, self.online = websocket, server_id, True
            self.reconnects += 1
            self._reader = asyncio.get_running_loop().create_task(self._read())
            for handle in list(self.documents.values()):
                await handle._resume()
            return


class DocumentHandle:
    """A local replica of one document, kept in sync with the server over the client's socket."""

    def __init__(self, client: SyncClient, wire_id: str, doc: am.Document) -> None:
        self.client = client
        self.wire_id = wire_id
        self.doc = doc
        self.actor = os.urandom(16)
        self.state = am.SyncState()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Every set of heads the server reported: what it has stored, hence acknowledged.
        self.server_heads: set[bytes] = set()
        self.acknowledged_heads: list[list[bytes]] = []
        self.ephemeral: list[tuple[str, object]] = []
        self.listeners: list[Callable[[DocumentHandle], None]] = []
        self._changed = asyncio.Condition()
        self._made_here: dict[bytes, bytes] = {}  # hash -> bytes of changes this replica sent up
        self._known: set[bytes] | None = None  # hashes in `doc`, kept up to date from `_known_at`
        self._known_at: list[bytes] = []
        self._last_have: tuple[sync_message.Have, ...] = ()
        # Caught up: the server last reported exactly this replica's heads, and from then on the
        # two sides trade changes and heads by hand, leaving `state` as it was (rc1 walks the whole
        # history for each message it takes in or makes, milliseconds on a long norm).
        self._caught_up = False
        self._in_flight: set[bytes] = set()  # sent by hand; not yet among the heads the server reported

    @property
    def url(self) -> str:
        return document.URL_PREFIX + self.wire_id

    @property
    def text(self) -> str:
        return document.read_text(self.doc)

    @property
    def heads(self) -> set[bytes]:
        return set(self.doc.get_heads())

    def has_change(self, change_hash: bytes) -> bool:
        """Whether the replica holds this change (rc1 would scan all history for an unknown hash)."""
        heads = self.doc.get_heads()
        if change_hash in heads:
            return True
        if self._known is None:
            self._known = {change.hash for change in self.doc.get_changes([])}
        elif heads != self._known_at:
            self._known.update(change.hash for change in self.doc.get_changes(self._known_at))
        self._known_at = heads
        return change_hash in self._known

    def _note_added(self, before: list[bytes], changes: list[document.Change]) -> None:
        """Keep the known hashes current after adding `changes` at `before` (no rc1 walk, which slows
        to the whole history once concurrent writers interleave)."""
        if self._known is not None and self._known_at == before:
            self._known.update(change.hash for change in changes)
            self._known_at = self.doc.get_heads()

    async def splice(self, index: int, delete: int, insert: str) -> list[bytes]:
        """Edit the body as this replica's actor (one change) and send it; the hashes of the changes made."""
        before = self.doc.get_heads()
        made = document.apply_splices(self.doc, self.actor, [(index, delete, insert)])
        changes = document.split_changes(b"".join(made)) if made else []
        self._note_added(before, changes)
        self._made_here.update((change.hash, change.data) for change in changes)
        await self._after_local_change(changes)
        return [change.hash for change in changes]

    async def add_changes(self, data: bytes, send: bool = True) -> None:
        """Merge encoded changes (made elsewhere, say by another replica of this peer) and send them.

        With `send=False` they wait for the next `flush` (or edit), so many go up in one message.
        """
        changes = document.split_changes(data)
        fresh = [change for change in changes if not self.has_change(change.hash)]
        if fresh:
            document.merge_changes(self.doc, fresh)
            self._made_here.update((change.hash, change.data) for change in fresh)
            self._leave_caught_up()  # rc1 works out what to send of changes that may depend on anything
        if send:
            await self._after_local_change()

    async def flush(self) -> None:
        """Send what the server lacks (a no-op when nothing is new)."""
        await self._after_local_change()

    async def send_ephemeral(self, payload: object) -> None:
        """Broadcast a presence (or any transient) message to the document's other peers."""
        self.client._count += 1
        await self.client._send(
            {
                "type": "ephemeral",
                "senderId": self.client.peer_id,
                "targetId": self.client.server_id,
                "count": self.client._count,
                "sessionId": self.client._session,
                "documentId": self.wire_id,
                "data": cbor2.dumps(payload),
            }
        )

    async def wait_for(self, predicate: Callable[[DocumentHandle], bool], timeout: float = 10) -> None:
        """Wait until `predicate(handle)` holds (checked after each message); SyncError if the socket closes first."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not predicate(self):
                    if self.client.closed.done():
                        code, reason = self.client.closed.result()
                        raise SyncError(f"socket closed ({code} {reason}) while waiting")
                    await self._changed.wait()

    async def wait_synced(self, timeout: float = 10) -> None:
        """Wait until the server reports exactly this replica's heads: everything here is stored there."""
        await self.wait_for(lambda handle: handle.server_heads == handle.heads, timeout)

    # --- Protocol ----------------------------------------------------------------------

    async def _after_local_change(self, made: Sequence[document.Change] = ()) -> None:
        if not self._caught_up:
            await self._sync()
        elif made:
            # The server holds everything else: these changes are all it lacks.
            self._in_flight.update(change.hash for change in made)
            await self._send_sync(sync_message.at_heads(self.doc.get_heads(), tuple(change.data for change in made)))
        await self._notify()

    def _leave_caught_up(self) -> None:
        """Hand the sync back to rc1, with a state that takes the server's last heads as shared."""
        if not self._caught_up:
            return
        self._caught_up = False
        self._in_flight.clear()
        self.state = am.SyncState()
        if self.server_heads:
            self.doc.receive_sync_message(self.state, am.Message.decode(sync_message.at_heads(self.server_heads)))

    async def _receive_caught_up(self, parsed: sync_message.SyncMessage) -> bool:
        """Take in a message while caught up, by hand; False if rc1 must (it asks for something, or the sides differ)."""
        if parsed.need:
            return False
        changes = document.split_changes(b"".join(parsed.changes)) if parsed.changes else []
        fresh = [change for change in changes if not self.has_change(change.hash)]
        batch = {change.hash for change in fresh}
        if any(dep not in batch and not self.has_change(dep) for change in fresh for dep in change.deps):
            return False
        if fresh:
            # Checked above: the replica holds none of them and every dependency.
            before = self.doc.get_heads()
            document.merge_changes(self.doc, document.topological(fresh), fresh=True)
            self._note_added(before, fresh)
        if not all(self.has_change(head) for head in parsed.heads):
            return False
        self._record_server_heads(parsed.heads)
        heads = self.doc.get_heads()
        if set(heads) == self.server_heads:
            self._in_flight.clear()
            if parsed.changes:
                await self._acknowledge(heads)
        elif any(head not in self.server_heads and head not in self._in_flight for head in heads):
            return False  # this replica holds what it never sent: rc1 finds out what
        await self._notify()
        return True

    def _record_server_heads(self, heads: Sequence[bytes]) -> None:
        self.server_heads = set(heads)
        self.acknowledged_heads.append(list(heads))
        # Ready once this replica holds what the server held: a first message may bring only the
        # server's heads (a round of the room that came before the answer to our request).
        if not self.ready.done() and all(self.has_change(head) for head in heads):
            self.ready.set_result(None)

    async def _sync(self, request: bool = False, need: tuple[bytes, ...] = (), their_heads: tuple[bytes, ...] = ()) -> None:
        message = self.doc.generate_sync_message(self.state)
        data: bytes | None = message.encode() if message is not None else None
        if data is not None:
            self._last_have = sync_message.decode(data).have
        if need:
            data = self._answer_need(data, need)
        unknown = [h for h in their_heads if not self.has_change(h)]
        if data is not None and unknown:
            # rc1 may leave out of `need` a head of the server's that we lack (see the hub's receive).
            parsed = sync_message.decode(data)
            if parsed.version == sync_message.V1 and not set(unknown) <= set(parsed.need):
                data = sync_message.encode(parsed.with_need(set(parsed.need) | set(unknown)))
        if data is None and unknown:
            # rc1 is "in flight" and silent: ask for what the server has that we lack.
            heads = tuple(sorted(self.doc.get_heads()))
            data = sync_message.encode(sync_message.SyncMessage(sync_message.V1, heads, tuple(sorted(unknown)), self._last_have, ()))
        if data is not None:
            await self._send_sync(data, "request" if request else "sync")

    async def _send_sync(self, data: bytes, kind: str = "sync") -> None:
        if self.client.closed.done() or not self.client.online:
            return
        await self.client._send(
            {"type": kind, "senderId": self.client.peer_id, "targetId": self.client.server_id, "documentId": self.wire_id, "data": data}
        )

    def _answer_need(self, data: bytes | None, need: tuple[bytes, ...]) -> bytes | None:
        """Make sure the changes the server asked for go up.

        rc1 stays "in flight" while a change it sent is unacknowledged, and then sends nothing, not
        even what the server explicitly needs (say, a change its Bloom filter wrongly claimed).
        """
        message = (
            sync_message.decode(data)
            if data is not None
            else sync_message.SyncMessage(sync_message.V1, tuple(sorted(self.doc.get_heads())), (), self._last_have, ())
        )
        if message.version != sync_message.V1:
            return data
        sent = {change.hash for change in document.split_changes(b"".join(message.changes))} if message.changes else set()
        wanted = [h for h in need if h not in sent]
        if not wanted:
            return data
        if any(h not in self._made_here for h in wanted):
            self._made_here.update((change.hash, change.bytes) for change in self.doc.get_changes([]))
        extra = tuple(self._made_here[h] for h in wanted if h in self._made_here)
        if not extra:
            return data
        return sync_message.encode(
            sync_message.SyncMessage(message.version, message.heads, message.need, message.have, message.changes + extra, message.flags)
        )

    async def _receive(self, data: bytes) -> None:
        parsed = sync_message.decode(data)
        if self._caught_up:
            if await self._receive_caught_up(parsed):
                return
            self._leave_caught_up()
        self.doc.receive_sync_message(self.state, am.Message.decode(data))
        self._record_server_heads(parsed.heads)
        heads = self.doc.get_heads()
        if not parsed.need and self.server_heads == set(heads):
            # Both sides hold the same changes: acknowledge what came, by hand, and go on by hand.
            self._caught_up = True
            if parsed.changes:
                await self._acknowledge(heads)
        else:
            await self._sync(need=parsed.need, their_heads=parsed.heads)
        await self._notify()

    async def _acknowledge(self, heads: list[bytes]) -> None:
        await self._send_sync(sync_message.at_heads(heads))

    def _unavailable(self) -> None:
        if not self.ready.done():
            self.ready.set_exception(DocumentUnavailable(f"{self.url} is unavailable"))

    def _hear(self, message: dict[str, object]) -> None:
        data = message.get("data")
        try:
            payload = cbor2.loads(data) if isinstance(data, bytes) else data
        except Exception:
            payload = data
        sender = message.get("senderId", "")
        self.ephemeral.append((sender if isinstance(sender, str) else str(sender), payload))
        asyncio.get_running_loop().create_task(self._notify())

    async def _resume(self) -> None:
        """On a new socket the server knows nothing of this peer: start the sync over (heads, then changes)."""
        self.state = am.SyncState()
        self._last_have = ()
        self._caught_up = False
        self._in_flight.clear()
        await self._sync(request=not self.doc.get_heads())

    def _disconnected(self, code: int | None, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(SyncError(f"socket closed ({code} {reason})"))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        for listener in self.listeners:
            listener(self)
        async with self._changed:
            self._changed.notify_all()


def _combine(messages: list[bytes]) -> bytes | None:
    """Sync messages received one after another, as one: every change, and the last word on the rest.

    None when one of them carries a whole saved document (version 2), which does not combine.
    """
    parsed = [sync_message.decode(data) for data in messages]
    if any(message.version != sync_message.V1 for message in parsed):
        return None
    last = parsed[-1]
    changes = tuple(change for message in parsed for change in message.changes)
    return sync_message.encode(sync_message.SyncMessage(last.version, last.heads, last.need, last.have, changes, last.flags))


async def _handshake(url: str, ticket: str | None, peer_id: str, origin: str | None, timeout: float) -> tuple[ClientConnection, str]:
    """Open a socket, join as `peer_id` and return it with the server's peer id."""
    if ticket is not None:
        url += ("&" if "?" in url else "?") + "ticket=" + quote(ticket)
    websocket = await websockets.connect(url, max_size=None, origin=Origin(origin) if origin is not None else None, open_timeout=timeout)
    join = {"type": "join", "senderId": peer_id, "peerMetadata": {"isEphemeral": True}, "supportedProtocolVersions": ["1"]}
    try:
        await websocket.send(cbor2.dumps(join))
        async with asyncio.timeout(timeout):
            answer = cbor2.loads(await websocket.recv(decode=False))
    except websockets.ConnectionClosed as exc:
        raise SyncError(f"closed during the handshake: {_close_of(exc)}") from None
    except TimeoutError:
        await websocket.close()
        raise SyncError(f"no answer to join within {timeout} s") from None
    if not isinstance(answer, dict) or answer.get("type") != "peer":
        await websocket.close()
        raise SyncError(f"expected a peer message, got {answer!r}")
    return websocket, answer["senderId"]


def _close_of(exc: websockets.ConnectionClosed) -> str:
    received = exc.rcvd
    return f"{received.code} {received.reason}" if received is not None else "no close frame"
