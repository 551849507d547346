"""The sync hub: every live peer of every document on this instance, and the fan-out between them.

The hub keeps the rooms, the broker relay and the timers, and holds a document's lock around each
step of a peer's sync state; what each peer is sent is decided by its `PeerSync` (peer_state.py).

Each document with peers here has a room. A change committed by the norm store (from a peer, an
HTTP edit, or another instance) makes the room generate a sync message for each of its peers
from the resident document, under the document's lock, so no peer ever hears of an uncommitted
change. Other instances learn of changes through the broker (one channel per document, carrying
the raw change bytes) and catch up from the database, which stays the source of truth; each room
also catches up on a timer, so a lost broker message delays a peer but never loses an edit.

Readers who do not edit follow a room too, without a sync peer (readers.py): each round that moves
the heads tells them, once for all, the splice from the text they were last told to the new one.

A peer that holds everything the server has is served from the store's journal of recent changes
instead of rc1's sync state: its acknowledgements cost a look at the heads, and each fan-out round
builds one message for all such peers. rc1 takes over again whenever a peer lags, asks for
something, or has what the server lacks. A peer that opens a document holding nothing is sent the
whole document in one message (as committed: the resident copy's save, or what the database holds).
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import automerge.core as am
import cbor2
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocket

from networks import membership
from norms import document
from norms.diff import splice_between
from norms.errors import InvalidChanges
from norms.models import Norm, NormChange, NormTranslation
from norms.store import NormStore, Stored, Whole
from services.accounts.models import Participant
from services.kit import metrics
from services.kit.broker import Broker
from services.kit.ratelimit import TooManyRequests
from services.realtime import protocol, sync_message, tickets
from services.realtime.connection import Connection, Identity, PeerDocument
from services.realtime.peer_state import DocumentPoisoned, Round
from services.realtime.readers import TextEvent, TextReader
from services.realtime.schemas import ResidentDocument, SyncStats
from services.settings import Settings

log = structlog.get_logger()

STATS_LOG_SECONDS = 60.0


def channel(document_id: bytes) -> str:
    return f"cogov:sync:{document_id.hex()}"


@dataclass(eq=False)
class Room:
    """The peers and text readers of one document on this instance."""

    document_id: bytes
    peers: set[PeerDocument] = field(default_factory=set)
    readers: set[TextReader] = field(default_factory=set)
    # What the readers were last told: the heads, text and title of the last round that moved the heads.
    told: tuple[tuple[bytes, ...], str, str] | None = None
    dirty: bool = False
    last_round: float = float("-inf")
    fanout: asyncio.Task[None] | None = None
    follower: asyncio.Task[None] | None = None
    retry: asyncio.TimerHandle | None = None  # a round for peers whose changes were held back


class SyncHub:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: NormStore,
        broker: Broker,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.store = store
        self.broker = broker
        self.ledger = tickets.create_ledger(settings.redis_url)
        self.instance_id = secrets.token_hex(6)
        self.server_id = f"cogov-server-{self.instance_id}"
        self.connections: set[Connection] = set()
        # Signed-out sockets per client address, counted from the handshake (so a burst of handshakes
        # cannot all pass the limit before any is served) until the socket ends.
        self._anonymous: Counter[str] = Counter()
        self.rooms: dict[bytes, Room] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._last_stats_log = time.monotonic()
        store.add_listener(self._on_stored)

    # --- Life cycle ------------------------------------------------------------------------

    def ensure_started(self) -> None:
        if not self._loops:
            self._loops = [asyncio.create_task(self._revalidate_loop()), asyncio.create_task(self._maintenance_loop())]

    async def stop(self) -> None:
        for connection in list(self.connections):
            connection.close(protocol.GOING_AWAY, "server shutting down")
        await asyncio.sleep(0)
        tasks = [*self._loops, *self._tasks]
        for room in self.rooms.values():
            tasks += [task for task in (room.fanout, room.follower) if task is not None]
            if room.retry is not None:
                room.retry.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops = []
        for closer in (self.ledger.close, self.broker.close):
            try:
                await closer()
            except Exception as exc:  # a broker already gone is no reason to fail shutdown
                log.warning("sync.close_failed", error=repr(exc))

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- Connections -----------------------------------------------------------------------

    async def redeem(self, ticket: str) -> Identity:
        """The participant a ticket speaks for; `TicketRefused` if expired, reused, forged or revoked."""
        claims = tickets.read(ticket, self.settings.signing_key)
        if not await self.ledger.claim(claims.ticket_id, self.settings.sync_ticket_seconds):
            raise tickets.TicketRefused("the ticket was already used; ask for a new one")
        async with self.sessionmaker() as session:
            participant = await session.get(Participant, claims.participant_id)
        if participant is None or participant.token_version != claims.token_version:
            raise tickets.TicketRefused("the ticket was revoked (signed out); sign in again")
        return Identity(participant.id, participant.display_name, participant.token_version)

    async def serve(self, websocket: WebSocket, identity: Identity) -> None:
        self.ensure_started()
        connection = Connection(self, websocket, identity)
        self.connections.add(connection)
        log.info("sync.connected", participant=str(identity.participant_id) if identity.participant_id else None)
        await connection.serve()

    @contextmanager
    def anonymous_place(self, address: str) -> Iterator[bool]:
        """Hold one of `address`'s `sync_anonymous_per_address` places for a signed-out socket for the block;
        yields False, holding nothing, when they are all taken."""
        if self._anonymous[address] >= self.settings.sync_anonymous_per_address:
            yield False
            return
        self._anonymous[address] += 1
        try:
            yield True
        finally:
            self._anonymous[address] -= 1
            if self._anonymous[address] <= 0:
                del self._anonymous[address]

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)
        for peer_document in connection.documents.values():
            self._leave_room(peer_document)
        connection.documents.clear()

    async def access(self, document_id: bytes, participant_id: uuid.UUID | None) -> tuple[uuid.UUID, bool] | None:
        """(network, member?) for a norm (or a norm's translation) the participant may read; None if there is no such
        document.

        Norms and their translations are public: anyone may read; members of the network write (the store checks that).
        """
        async with self.sessionmaker() as session:
            network_id = await session.scalar(select(Norm.network_id).where(Norm.document_id == document_id))
            if network_id is None:
                network_id = await session.scalar(
                    select(Norm.network_id)
                    .join(NormTranslation, NormTranslation.norm_id == Norm.id)
                    .where(NormTranslation.document_id == document_id)
                )
            if network_id is None:
                return None
            # Writers are members with a proven address; anyone else reads.
            member = await membership.refusal_to_edit(session, network_id, participant_id, "") is None
        return network_id, member

    # --- Rooms -----------------------------------------------------------------------------

    def join_room(self, peer_document: PeerDocument) -> None:
        self._room(peer_document.document_id).peers.add(peer_document)

    def _room(self, document_id: bytes) -> Room:
        room = self.rooms.get(document_id)
        if room is None:
            room = self.rooms[document_id] = Room(document_id)
            self.store.pin(room.document_id)
            room.follower = asyncio.create_task(self._follow(room))
        return room

    def _leave_room(self, peer_document: PeerDocument) -> None:
        room = self.rooms.get(peer_document.document_id)
        if room is None:
            return
        room.peers.discard(peer_document)
        self._close_if_empty(room)

    def _close_if_empty(self, room: Room) -> None:
        if not room.peers and not room.readers and self.rooms.get(room.document_id) is room:
            del self.rooms[room.document_id]
            self.store.unpin(room.document_id)
            for task in (room.follower, room.fanout):
                if task is not None:
                    task.cancel()
            if room.retry is not None:  # a round for held-back changes, now for nobody
                room.retry.cancel()

    async def receive(self, peer_document: PeerDocument, parsed: sync_message.SyncMessage) -> None:
        """Take a sync message (its changes already stored) into the peer's sync state and answer it."""
        document_id, sync = peer_document.document_id, peer_document.sync
        heard = sync.hear(parsed)
        if heard.wants_whole:
            # The whole document in one message, loaded in one go, as rc1 would send it, but from the
            # copy's last save or, for a document not in memory, from the database without loading it.
            whole = await self._whole(document_id)
            if whole is not None and whole.data:
                self._send_sync(peer_document, sync.send_whole(whole))
                return
        async with self.store.reading(document_id, catch_up=False) as doc:
            try:
                reception = sync.receive(doc, self.store.journal(document_id), parsed, heard.answered)
            except DocumentPoisoned:
                self.store.evict(document_id)  # a Rust panic poisons the document it happened in: load it again next time
                raise
        if reception.round and (room := self.rooms.get(document_id)) is not None:
            self._request_fanout(room)
        reply = sync.answer(parsed, reception, await self._stored_changes(document_id, reception.fetch()))
        if reply is not None:
            self._send_sync(peer_document, reply)

    async def _whole(self, document_id: bytes) -> Whole | None:
        try:
            return await self.store.whole(document_id)
        except InvalidChanges as exc:  # synced change by change instead
            log.warning("sync.whole_document_failed", document=document.document_url(document_id), error=str(exc))
            return None

    async def _stored_changes(self, document_id: bytes, hashes: list[bytes]) -> tuple[bytes, ...]:
        if not hashes:
            return ()
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(NormChange.id, NormChange.data)
                .where(NormChange.document_id == document_id, NormChange.hash.in_(hashes))
                .order_by(NormChange.id)
            )
            return tuple(row.data for row in rows)

    def _send_sync(self, peer_document: PeerDocument, data: bytes) -> None:
        connection = peer_document.connection
        if connection.peer_id is not None:
            connection.send(protocol.sync(self.server_id, connection.peer_id, peer_document.wire_id, data))

    def _on_stored(self, stored: Stored) -> None:
        room = self.rooms.get(stored.document_id)
        if room is not None:
            if isinstance(stored.origin, Connection):
                # The writer has its own changes: none of them goes back to it.
                for peer_document in room.peers:
                    if peer_document.connection is stored.origin:
                        peer_document.sync.wrote(stored.changes)
            self._request_fanout(room)
        if stored.changes and not stored.relayed:
            payload = cbor2.dumps({"o": self.instance_id, "k": "c", "d": b"".join(change.data for change in stored.changes)})
            self._spawn(self._publish(stored.document_id, payload))

    def _retry_held(self, room: Room) -> None:
        room.retry = None
        self._request_fanout(room)

    def _request_fanout(self, room: Room) -> None:
        room.dirty = True
        if room.fanout is None or room.fanout.done():
            room.fanout = asyncio.create_task(self._fanout(room))

    async def _fanout(self, room: Room) -> None:
        """Offer every peer of the room what it lacks; changes arriving meanwhile join the next round.

        Rounds start at most every `sync_batch_seconds`, or `sync_batch_seconds_per_peer` per peer in a
        smaller room: a change typed right after a quiet spell goes out at once, and under a burst each
        peer gets one message per interval, not one per change.
        """
        loop = asyncio.get_running_loop()
        try:
            while room.dirty and (room.peers or room.readers):
                # Readers are owed each round too: they count as peers for the room's pace.
                recipients = len(room.peers) + len(room.readers)
                interval = min(self.settings.sync_batch_seconds, self.settings.sync_batch_seconds_per_peer * recipients)
                wait = room.last_round + interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                room.dirty = False
                held = await self._round(room)
                if held and room.retry is None:
                    # A peer that never answers still gets what it lacks, `sync_answer_seconds` late.
                    room.retry = loop.call_later(self.settings.sync_answer_seconds, self._retry_held, room)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sync.fanout_failed", document=document.document_url(room.document_id))

    async def _round(self, room: Room) -> bool:
        """One round: each peer's offer, from the document as committed; True if changes were held back for a peer."""
        async with self.store.reading(room.document_id, catch_up=False) as doc:
            room.last_round = asyncio.get_running_loop().time()
            round_ = Round(doc, self.store.journal(room.document_id), room.last_round, self.settings.sync_answer_seconds)
            for peer_document in list(room.peers):
                if (message := peer_document.sync.offer(round_)) is not None:
                    self._send_sync(peer_document, message)
            round_.close(peer_document.sync for peer_document in room.peers)
            self._tell_readers(room, doc)
        return round_.held

    # --- Text readers ----------------------------------------------------------------------

    async def follow_text(self, document_id: bytes, since: tuple[bytes, ...] | None, address: str = "") -> TextReader:
        """A reader of the document's text, told first what changed since `since` (the whole text if
        `since` is None or unknown here), then every later round's change; `unfollow_text` it when done.

        `TooManyRequests` when `address` already has `sync_anonymous_per_address` readers here (as for
        signed-out sync sockets: readers are as cheap to open and cost the instance as much)."""
        self.ensure_started()
        # A document with a room is kept current by its listeners, broker and timer: no query per reader.
        async with self.store.reading(document_id, catch_up=document_id not in self.rooms) as doc:
            limit = self.settings.sync_anonymous_per_address
            if sum(reader.address == address for room in self.rooms.values() for reader in room.readers) >= limit:
                metrics.rate_limited("text_readers")
                raise TooManyRequests(f"more than {limit} live texts open from your address; close some", retry_after=10)
            heads = tuple(sorted(doc.get_heads()))
            text, title = document.read_text(doc), document.read_title(doc)
            changes = self.store.change_count(document_id)
            room = self._room(document_id)
            if room.told is None or not room.readers:  # no reader was told anything since: start from now
                room.told = (heads, text, title)
            reader = TextReader(heads, address)
            if since != heads:
                if since is not None and all(document.has_change(doc, head) for head in since):
                    old_text, old_title = document.read_text(doc, since), document.read_title(doc, since)
                    changed_title = title if title != old_title else None
                    reader.push(TextEvent.splice(heads, old_text, splice_between(old_text, text), changed_title, changes), heads)
                else:
                    reader.push(TextEvent.whole(heads, title, text, changes), heads)
            room.readers.add(reader)
        return reader

    def unfollow_text(self, document_id: bytes, reader: TextReader) -> None:
        room = self.rooms.get(document_id)
        if room is not None and reader in room.readers:
            room.readers.discard(reader)
            self._close_if_empty(room)

    def _tell_readers(self, room: Room, doc: am.Document) -> None:
        """Queue for each reader the round's one splice (computed once for all), or the whole text for a reader
        that was told another state; called under the document's lock, from the round."""
        if not room.readers:
            return
        heads = tuple(sorted(doc.get_heads()))
        if room.told is not None and heads == room.told[0]:
            return
        text, title = document.read_text(doc), document.read_title(doc)
        told_heads, told_text, told_title = room.told or ((), "", "")
        changed_title = title if title != told_title else None
        changes = self.store.change_count(room.document_id)
        splice = TextEvent.splice(heads, told_text, splice_between(told_text, text), changed_title, changes)
        whole = functools.cache(lambda: TextEvent.whole(heads, title, text, changes))  # built only for a reader that needs it
        resynced = 0
        for reader in room.readers:
            if reader.heads == heads:
                continue
            resynced += not reader.push(splice if reader.heads == told_heads else whole(), heads, whole)
        room.told = (heads, text, title)
        if resynced:
            metrics.readers_resynced(resynced)

    @property
    def reader_count(self) -> int:
        return sum(len(room.readers) for room in self.rooms.values())

    async def relay_ephemeral(self, peer_document: PeerDocument, frame: protocol.EphemeralFrame) -> None:
        self._relay_locally(peer_document.document_id, frame, exclude=peer_document.connection)
        message = {
            "sender": frame.sender_id,
            "count": frame.count,
            "session": frame.session_id,
            "document": frame.document_id,
            "data": frame.data,
        }
        payload = cbor2.dumps({"o": self.instance_id, "k": "e", "m": message})
        self._spawn(self._publish(peer_document.document_id, payload))

    def _relay_locally(self, document_id: bytes, frame: protocol.EphemeralFrame, exclude: Connection | None) -> None:
        room = self.rooms.get(document_id)
        if room is None:
            return
        for peer_document in list(room.peers):
            connection = peer_document.connection
            if connection is exclude or connection.peer_id is None:
                continue
            # Each peer is addressed with the document id as it wrote it.
            relayed = protocol.EphemeralFrame(
                frame.sender_id, connection.peer_id, peer_document.wire_id, frame.count, frame.session_id, frame.data
            )
            connection.send(protocol.ephemeral(relayed, connection.peer_id))

    # --- Across instances ------------------------------------------------------------------

    async def _publish(self, document_id: bytes, payload: bytes) -> None:
        try:
            await self.broker.publish(channel(document_id), payload)
        except Exception as exc:  # the database has it; other instances catch up on their timer
            log.warning("sync.publish_failed", document=document.document_url(document_id), error=repr(exc))

    async def _follow(self, room: Room) -> None:
        """Listen to the room's channel; after each (re)subscription, catch up from the database."""
        delay, resubscribed = 0.2, False
        while True:
            try:
                async with self.broker.subscribe(channel(room.document_id)) as messages:
                    delay = 0.2
                    await self._catch_up(room, resubscribed)
                    resubscribed = True
                    async for payload in messages:
                        await self._on_broker_message(room, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sync.broker_lost", document=document.document_url(room.document_id), error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _on_broker_message(self, room: Room, payload: bytes) -> None:
        try:
            message = cbor2.loads(payload)
            if not isinstance(message, dict) or message.get("o") == self.instance_id:
                return
            if message.get("k") == "c":
                data = message.get("d")
                # Committed on the other instance before it was broadcast: merged here as it is, or
                # from the database if this copy lacks what it builds on.
                if not isinstance(data, bytes) or not await self.store.merge_relayed(room.document_id, data):
                    await self._catch_up(room)
            elif message.get("k") == "e":
                sent = message["m"]
                frame = protocol.EphemeralFrame(
                    sent["sender"], self.server_id, sent["document"], sent["count"], sent["session"], sent["data"]
                )
                self._relay_locally(room.document_id, frame, exclude=None)
        except Exception:
            log.exception("sync.broker_message_failed", document=document.document_url(room.document_id))

    async def _catch_up(self, room: Room, offer_unloaded: bool = True) -> None:
        """Merge what other instances stored; offer it to the room's peers.

        A document that is not resident may hold, once loaded, what the peers missed while the broker
        was lost: they are offered it. Not on a room's first subscription: its first peer is being
        answered from a fresh load, and a message from the server before that answer is a wasted
        sync message (generated from the whole document for a large one).
        """
        try:
            gained = await self.store.catch_up(room.document_id)
        except Exception as exc:
            log.warning("sync.catch_up_failed", document=document.document_url(room.document_id), error=repr(exc))
            return
        if gained or (offer_unloaded and not self.store.is_resident(room.document_id)):
            self._request_fanout(room)

    # --- Timers ----------------------------------------------------------------------------

    async def _revalidate_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sync_revalidate_seconds)
            try:
                await self.revalidate()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sync.revalidate_failed", error=repr(exc))

    async def revalidate(self) -> None:
        """Close the sockets of participants who signed out or left the network of a norm they had open."""
        signed_in = [
            (connection.participant_id, connection)
            for connection in self.connections
            if connection.participant_id and not connection.closing
        ]
        if not signed_in:
            return
        ids = {pid for pid, _ in signed_in}
        async with self.sessionmaker() as session:
            rows = await session.execute(select(Participant.id, Participant.token_version).where(Participant.id.in_(ids)))
            versions: dict[uuid.UUID, int] = {participant: version for participant, version in rows.all()}
            memberships = await membership.memberships_of(session, ids)
        for pid, connection in signed_in:
            if versions.get(pid) != connection.identity.token_version:
                connection.close(protocol.UNAUTHORIZED, "signed out: this participant's tokens were revoked")
                continue
            for peer_document in list(connection.documents.values()):
                if peer_document.member and (pid, peer_document.network_id) not in memberships:
                    connection.close(protocol.FORBIDDEN, "no longer a member of the network of a norm open on this socket")
                    break

    async def _maintenance_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sync_catch_up_seconds)
            try:
                for room in list(self.rooms.values()):
                    await self._catch_up(room)
                self.store.evict_idle()
                if time.monotonic() - self._last_stats_log >= STATS_LOG_SECONDS:
                    self._last_stats_log = time.monotonic()
                    summary = self.stats()
                    log.info(
                        "sync.stats",
                        connections=summary.connections,
                        rooms=len(self.rooms),
                        resident_documents=summary.resident_documents,
                        approx_bytes=summary.approx_bytes,
                        rss_bytes=summary.rss_bytes,
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sync.maintenance_failed", error=repr(exc))

    # --- Stats -----------------------------------------------------------------------------

    def stats(self) -> SyncStats:
        residents = self.store.residents()
        return SyncStats(
            instance=self.instance_id,
            connections=len(self.connections),
            signed_in_connections=sum(1 for connection in self.connections if connection.participant_id),
            resident_documents=len(residents),
            approx_bytes=sum(info.approx_bytes for info in residents),
            rss_bytes=_rss_bytes(),
            documents=[
                ResidentDocument(
                    url=document.document_url(info.document_id),
                    peers=len(self.rooms[info.document_id].peers) if info.document_id in self.rooms else 0,
                    change_count=info.change_count,
                    approx_bytes=info.approx_bytes,
                    idle_seconds=info.idle_seconds,
                )
                for info in residents
            ],
        )


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
