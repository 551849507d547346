"""One peer's WebSocket: read frames, throttle, authorise each message, write replies in order."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from networks.errors import NotAMember, StaffCannotTakePart
from norms import document
from norms.errors import (
    AttributionRefused,
    DocumentShapeRefused,
    InvalidChanges,
    NormNotFound,
    NormTooLarge,
    NotDrafting,
    TextRefused,
    UnknownDependencies,
)
from norms.service import edit_permission
from services.accounts.addresses import EmailUnverified
from services.kit import metrics
from services.kit.db import unreachable
from services.realtime import protocol, sync_message
from services.realtime.peer_state import PeerSync
from services.realtime.protocol import POLICY, ProtocolError

if TYPE_CHECKING:
    from norms.store import NormStore
    from services.settings import Settings

log = structlog.get_logger()

# Changes held back for want of their dependencies (a Bloom filter false positive at the peer).
MAX_PENDING_CHANGES = 10_000
MAX_DOCUMENTS_PER_SOCKET = 1_000
STRIKE_WINDOW_SECONDS = 5.0


@dataclass(frozen=True)
class Identity:
    """Who a socket speaks for: a participant (from a ticket) or nobody (a public reader)."""

    participant_id: uuid.UUID | None = None
    display_name: str | None = None
    token_version: int | None = None


@dataclass(frozen=True, eq=False)
class PeerDocument:
    """One document on one socket: who opened it, as what, and the sync state between this server and that peer."""

    connection: Connection
    document_id: bytes
    wire_id: str  # the documentId exactly as the peer wrote it, for replies
    network_id: uuid.UUID
    member: bool  # a member of the norm's network when the peer opened it (the watchdog re-checks)
    sync: PeerSync


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Hub(Protocol):
    """What a connection needs of the hub that serves it (`SyncHub`)."""

    settings: Settings
    server_id: str  # this server's peer id in the protocol
    store: NormStore  # where a peer's changes are stored before anything answers them

    async def access(self, document_id: bytes, participant_id: uuid.UUID | None) -> tuple[uuid.UUID, bool] | None:
        """(network, member?) for a norm the participant may read; None if there is no such norm."""
        ...

    def join_room(self, peer_document: PeerDocument) -> None:
        """The peer opened the document: offer it the document's changes from now on."""
        ...

    async def receive(self, peer_document: PeerDocument, parsed: sync_message.SyncMessage) -> None:
        """Take a sync message (its changes already stored) into the peer's sync state and answer it."""
        ...

    async def relay_ephemeral(self, peer_document: PeerDocument, frame: protocol.EphemeralFrame) -> None:
        """Pass presence on to the document's other peers, here and on other instances."""
        ...

    def forget(self, connection: Connection) -> None:
        """The socket ended: its peer leaves every room it was in."""
        ...


class Connection:
    def __init__(self, hub: Hub, websocket: WebSocket, identity: Identity) -> None:
        self.hub = hub
        self.websocket = websocket
        self.identity = identity
        self.peer_id: str | None = None
        self.documents: dict[str, PeerDocument] = {}
        self.closing = False
        self.close_code: int | None = None
        self._outbox: deque[bytes | _Close] = deque()
        self._wake = asyncio.Event()
        settings = hub.settings
        self._rate = settings.sync_max_messages_per_second
        self._tokens = float(self._rate)
        self._refilled = asyncio.get_running_loop().time()
        self._strikes: deque[float] = deque()
        self._handling = False  # a frame is being handled (it may hold a database session)

    @property
    def participant_id(self) -> uuid.UUID | None:
        return self.identity.participant_id

    # --- Running ---------------------------------------------------------------------------

    async def serve(self) -> None:
        """Read and answer until either side closes."""
        reader = asyncio.create_task(self._read_loop())
        writer = asyncio.create_task(self._write_loop())
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if writer.done() and not reader.done():
                # Let a frame being handled finish, so its database session closes rather than being
                # cancelled mid-query and left to the garbage collector; then stop reading.
                self.closing = True
                if self._handling:
                    await asyncio.wait({reader}, timeout=5)
                reader.cancel()
            elif reader.done() and not writer.done():
                self.closing = True
                self._wake.set()
                try:
                    async with asyncio.timeout(5):
                        await writer
                except TimeoutError:
                    writer.cancel()
            for task in (reader, writer):
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("sync.connection_failed", peer=self.peer_id, error=repr(task.exception()))
        finally:
            for task in (reader, writer):
                task.cancel()
            self.hub.forget(self)

    def send(self, frame: bytes) -> None:
        """Queue a frame; a peer that lets too many pile up is closed rather than let memory grow."""
        if self.closing:
            return
        if len(self._outbox) >= self.hub.settings.sync_outbox_limit:
            self._outbox.clear()
            self.close(protocol.TRY_AGAIN_LATER, "too slow: messages for this peer piled up; reconnect")
            return
        self._outbox.append(frame)
        self._wake.set()

    def close(self, code: int, reason: str, tell: str | None = None) -> None:
        """Close after what is queued, first telling the peer why in an `error` message if it joined."""
        if self.closing:
            return
        if self.peer_id is not None:
            self._outbox.append(protocol.error(self.hub.server_id, self.peer_id, tell or reason))
        self.closing = True
        self.close_code = code
        self._outbox.append(_Close(code, reason[:120]))
        self._wake.set()
        log.info(
            "sync.closing",
            peer=self.peer_id,
            participant=str(self.participant_id) if self.participant_id else None,
            code=code,
            reason=reason,
        )

    async def _write_loop(self) -> None:
        while True:
            while not self._outbox:
                if self.closing:
                    return  # the peer left and nothing is left to say
                self._wake.clear()
                await self._wake.wait()
            item = self._outbox.popleft()
            try:
                if isinstance(item, _Close):
                    await self.websocket.close(item.code, item.reason)
                    return
                await self.websocket.send_bytes(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.closing = True
                return

    async def _read_loop(self) -> None:
        limit = self.hub.settings.sync_max_frame_bytes
        while not self.closing:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                self.closing = True
                return
            data = message.get("bytes")
            if data is None:
                self.close(protocol.UNSUPPORTED_DATA, "text frame: this protocol sends binary CBOR frames")
                return
            if len(data) > limit:
                self.close(protocol.TOO_BIG, f"frame of {len(data)} bytes is over the {limit}-byte limit")
                return
            if not await self._throttle():
                return
            self._handling = True
            try:
                await self._handle(protocol.decode_frame(data))
            except ProtocolError as exc:
                self.close(exc.code, exc.reason, tell=str(exc))
                return
            except Exception as exc:
                if not unreachable(exc):
                    raise
                # Nothing of this message was stored or acknowledged; the peer sends it again on reconnecting.
                log.warning("sync.database_unreachable", peer=self.peer_id, error=repr(exc))
                self.close(protocol.TRY_AGAIN_LATER, "the database is unreachable; reconnect in a moment")
                return
            finally:
                self._handling = False

    async def _throttle(self) -> bool:
        """A token bucket of `rate` messages a second: over it, wait (throttle); a second's worth of waits in 5 s closes."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._tokens = min(float(self._rate), self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        while self._strikes and self._strikes[0] < now - STRIKE_WINDOW_SECONDS:
            self._strikes.popleft()
        self._strikes.append(now)
        if len(self._strikes) > self._rate:
            metrics.rate_limited("sync_messages")
            self.close(POLICY, f"more than {self._rate} messages per second")
            return False
        await asyncio.sleep((1 - self._tokens) / self._rate)
        self._tokens, self._refilled = 0.0, loop.time()
        return not self.closing

    # --- Messages --------------------------------------------------------------------------

    async def _handle(self, frame: protocol.Frame) -> None:
        if isinstance(frame, protocol.Join):
            self._on_join(frame)
            return
        if self.peer_id is None:
            raise ProtocolError(f"send join before {type(frame).__name__}", POLICY)
        if frame.sender_id != self.peer_id:
            if isinstance(frame, protocol.EphemeralFrame):
                # Stock automerge-repo peers pass every ephemeral message they hear on to their other
                # peers, us included, under its author's senderId. Drop it: its author's own copy
                # was already relayed, and this socket may not speak for another peer.
                log.debug("sync.foreign_ephemeral_dropped", peer=self.peer_id, sender=frame.sender_id[:40])
                return
            raise ProtocolError("senderId is not the peer that joined on this socket", POLICY)
        if isinstance(frame, protocol.SyncFrame):
            self._check_target(frame.target_id)
            await self._on_sync(self.peer_id, frame)
        elif isinstance(frame, protocol.EphemeralFrame):
            self._check_target(frame.target_id)
            await self._on_ephemeral(self.peer_id, frame)
        # doc-unavailable (the peer lacks a document), remote heads and subscriptions: nothing to do.

    def _check_target(self, target_id: str) -> None:
        if target_id != self.hub.server_id:
            raise ProtocolError("targetId is not this server's peer id", POLICY)

    def _on_join(self, frame: protocol.Join) -> None:
        if self.peer_id is not None and frame.sender_id != self.peer_id:
            raise ProtocolError("a socket joins once, as one peer", POLICY)
        if frame.protocol_versions is not None and protocol.PROTOCOL_VERSION not in frame.protocol_versions:
            self.peer_id = frame.sender_id
            raise ProtocolError("unsupported protocol version", POLICY)
        self.peer_id = frame.sender_id
        self.send(protocol.peer(self.hub.server_id, self.peer_id))

    async def _open(self, wire_id: str) -> PeerDocument | None:
        """The peer's view of a document it may read, joined to the document's room; None if it may not."""
        found = self.documents.get(wire_id)
        if found is not None:
            return found
        try:
            document_id = document.parse_document_id(wire_id)
        except document.InvalidDocumentId:
            return None
        access = await self.hub.access(document_id, self.participant_id)
        if access is None:
            return None
        if len(self.documents) >= MAX_DOCUMENTS_PER_SOCKET:
            raise ProtocolError(f"more than {MAX_DOCUMENTS_PER_SOCKET} documents on one socket", POLICY)
        network_id, member = access
        peer_document = PeerDocument(self, document_id, wire_id, network_id, member, PeerSync(document_id))
        self.documents[wire_id] = peer_document
        self.hub.join_room(peer_document)
        return peer_document

    async def _on_sync(self, peer_id: str, frame: protocol.SyncFrame) -> None:
        peer_document = await self._open(frame.document_id)
        if peer_document is None:
            self.send(protocol.doc_unavailable(self.hub.server_id, peer_id, frame.document_id))
            return
        try:
            message = sync_message.decode(frame.data)
        except sync_message.InvalidSyncMessage as exc:
            raise ProtocolError(f"sync data is not an Automerge sync message: {exc}") from None
        if message.changes:
            message = await self._store(peer_document, message)
        await self.hub.receive(peer_document, message)

    async def _store(self, peer_document: PeerDocument, message: sync_message.SyncMessage) -> sync_message.SyncMessage:
        """Commit the message's changes through the norm store before anything answers them.

        Returns what the sync state should take in: the message itself once its changes are stored,
        or the message without them while they wait for their dependencies.
        """
        if self.participant_id is None:
            raise ProtocolError("read-only connection: sign in and connect with a ticket to edit", POLICY)
        chunks = [*peer_document.sync.held, *message.changes]
        try:
            await self.hub.store.apply(
                peer_document.document_id,
                self.participant_id,
                b"".join(chunks),
                authorize=edit_permission(self.participant_id),
                origin=self,
            )
        except UnknownDependencies as exc:
            self._hold(peer_document, chunks, exc.missing)
            return message.without_changes()
        except EmailUnverified as exc:  # its own reason, so that the page can say what to do
            raise ProtocolError(f"{exc.code}: changes refused, nothing stored: {exc.detail}", POLICY) from None
        except (NotAMember, StaffCannotTakePart, NotDrafting, AttributionRefused) as exc:
            raise ProtocolError(f"changes refused, nothing stored: {exc.detail}", POLICY) from None
        except (InvalidChanges, TextRefused, DocumentShapeRefused) as exc:
            raise ProtocolError(f"invalid changes, nothing stored: {exc.detail}") from None
        except NormTooLarge as exc:  # too big to process: 1009, as for a frame over the limit
            raise ProtocolError(f"changes refused, nothing stored: {exc.detail}", protocol.TOO_BIG) from None
        except NormNotFound:
            raise ProtocolError("the document no longer exists", POLICY) from None
        peer_document.sync.stored_held()
        return message

    def _hold(self, peer_document: PeerDocument, chunks: list[bytes], missing: list[str]) -> None:
        try:
            held = document.split_changes(b"".join(chunks))
        except document.InvalidChange as exc:
            raise ProtocolError(f"invalid changes: {exc}") from None
        if len(held) > MAX_PENDING_CHANGES or sum(map(len, chunks)) > self.hub.store.limits.max_bytes:
            raise ProtocolError("too many changes whose dependencies never came", POLICY)
        log.debug("sync.changes_held", peer=self.peer_id, held=len(held), missing=missing)
        peer_document.sync.hold(chunks, {change.hash for change in held}, {bytes.fromhex(value) for value in missing})

    async def _on_ephemeral(self, peer_id: str, frame: protocol.EphemeralFrame) -> None:
        peer_document = await self._open(frame.document_id)
        if peer_document is None:
            self.send(protocol.doc_unavailable(self.hub.server_id, peer_id, frame.document_id))
            return
        limit = self.hub.settings.sync_max_ephemeral_bytes
        if len(frame.data) > limit:
            raise ProtocolError(f"ephemeral data over {limit} bytes", POLICY)
        await self.hub.relay_ephemeral(peer_document, frame)
