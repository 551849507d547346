"""What one peer has, was sent and awaits of one document, and so what it is sent next.

A `PeerSync` is the state machine between this server and one peer of one document. Each event is
a method that returns what to send the peer (bytes of a sync message, or None):

- `hear`: a sync message arrived; any message answers what the peer was last sent (flow control);
- `send_whole`: the peer holds nothing and reads V2 messages: the whole document in one message;
- `receive` then `answer`: the message (its changes stored) taken in under the document's lock,
  then answered once the stored changes the answer carries are fetched;
- `offer`: a fan-out `Round` (changes stored, or an answer awaited for too long): what it lacks;
- `wrote`, `hold`, `stored_held`: its own changes were stored, held back, or stored at last.

It does no I/O and keeps no clock: it reads the document and journal it is handed, at the time it
is told, so it is driven without sockets or a database. Nothing outside this module changes its
fields; the hub calls these methods under the document's lock where they say so.

A peer is served one of two ways. rc1's sync state, while the peer lags, asks for something or
has what the server lacks. Once it holds everything the server has, the store's journal instead:
the peer has every change of that journal before `sent`, an acknowledgement costs a look at the
heads, and every caught-up peer at one position shares one message per round. A caught-up peer
sent changes awaits its answer; what comes meanwhile is held back and goes in one message when it
answers, or in the first round `answer_seconds` after it was sent (the hub's timer asks for one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import automerge.core as am
import structlog

from norms import document
from norms.document import Change
from norms.store import Journal, Whole
from services.realtime import sync_message
from services.realtime.protocol import ProtocolError

log = structlog.get_logger()


class DocumentPoisoned(ProtocolError):
    """rc1 panicked on the peer's message: the resident copy it happened in must be loaded again."""


class Heard(NamedTuple):
    """What a message tells before it is taken in."""

    answered: bool  # it answers changes the peer was sent: what was held back for it may go now
    wants_whole: bool  # the peer holds nothing and reads V2 messages: offer it the whole document


@dataclass(eq=False)
class Reception:
    """A received message taken into the state: what to do before answering it.

    `round`: the room should run a fan-out round (held-back changes may go, or the peer's own
    changes are acknowledged there). `fetch()` names the stored changes the answer carries beyond
    rc1's reply; `PeerSync.answer` takes them.
    """

    reply: bytes | None = None  # rc1's reply, or the message that hands the peer to the journal
    final: bool = True  # `reply` goes out as it is
    round: bool = False
    heads: tuple[bytes, ...] = ()  # the server's heads, sorted
    unknown: set[bytes] = field(default_factory=set)  # the peer's heads the server lacks: ask for them
    wanted: list[bytes] = field(default_factory=list)  # what the peer needs that the server holds
    _reply: sync_message.SyncMessage | None = field(default=None, init=False, repr=False)

    def fetch(self) -> list[bytes]:
        """The hashes of the stored changes the answer must carry beyond `reply` (none for most messages)."""
        if self.final or not self.wanted:
            return []
        if self.reply is None:
            return self.wanted
        message = self._decoded(self.reply)
        if message.version != sync_message.V1:
            return []
        sent = {change.hash for change in document.split_changes(b"".join(message.changes))} if message.changes else set()
        return [h for h in self.wanted if h not in sent]

    def _decoded(self, reply: bytes) -> sync_message.SyncMessage:
        if self._reply is None:
            self._reply = sync_message.decode(reply)
        return self._reply

    def completed(self, reply: bytes, extra: tuple[bytes, ...]) -> bytes:
        """rc1's reply (this reception's `reply`), also asking for `unknown` and carrying `extra`, the changes it left out."""
        message = self._decoded(reply)
        if message.version != sync_message.V1 or (not extra and self.unknown <= set(message.need)):
            return reply
        completed = sync_message.SyncMessage(
            message.version,
            message.heads,
            tuple(sorted(set(message.need) | self.unknown)),
            message.have,
            message.changes + extra,
            message.flags,
        )
        return sync_message.encode(completed)


# The heads, need, have and changes of a sync message: what tells two answers apart.
_Gist = tuple[tuple[bytes, ...], tuple[bytes, ...], tuple[sync_message.Have, ...], tuple[bytes, ...]]


class Round:
    """One fan-out round over the peers of a document, under its lock: the copy as committed, its journal, the time."""

    def __init__(self, doc: am.Document, journal: Journal | None, now: float, answer_seconds: float) -> None:
        self.doc = doc
        self.journal = journal
        self.now = now  # the event loop's time
        self.answer_seconds = answer_seconds
        self.heads = doc.get_heads()
        self.held = False  # changes were held back for a peer that has not answered
        self._shared: dict[int, bytes] = {}  # one message for every caught-up peer at the same position

    def shared(self, position: int, lacking: list[Change]) -> bytes:
        """The message for caught-up peers sent up to `position`, who lack `lacking`: built once a round."""
        message = self._shared.get(position)
        if message is None:
            message = self._shared[position] = sync_message.at_heads(self.heads, tuple(change.data for change in lacking))
        return message

    def close(self, peers: Iterable[PeerSync]) -> None:
        """Let the journal forget what every caught-up peer has been sent."""
        if self.journal is not None:
            positions = (position for peer in peers if (position := peer.position(self.journal)) is not None)
            self.journal.forget(min(positions, default=self.journal.end))


class PeerSync:
    """The sync state between this server and one peer, for one document."""

    def __init__(self, document_id: bytes) -> None:
        self.document_id = document_id
        self._state: am.SyncState | None = am.SyncState()  # None while the journal serves the peer
        # Changes held back for want of their dependencies (a Bloom filter false positive at the peer).
        self._pending: tuple[bytes, ...] = ()
        self._pending_hashes: set[bytes] = set()
        self._missing: set[bytes] = set()
        self._last_have: tuple[sync_message.Have, ...] = ()  # the last summary rc1 made for this peer
        self._last_answer: _Gist | None = None  # heads, need, have and changes of the last answer to this peer
        # Served from `journal`: the peer has every change of it before `sent`, and `theirs` came from it.
        self._journal: Journal | None = None
        self._sent = 0
        self._theirs: set[bytes] = set()
        self._acknowledge = False  # it sent changes the next round must acknowledge
        self._heads: tuple[bytes, ...] = ()  # the heads the peer last said it has
        self._awaiting: float | None = None  # when it was last sent changes it has not answered yet
        self._heard = False  # the peer has sent a sync message for this document
        self._loading_whole = False  # it was sent the whole document and has not answered yet

    @property
    def held(self) -> tuple[bytes, ...]:
        """The peer's changes held back until what they depend on arrives."""
        return self._pending

    def position(self, journal: Journal) -> int | None:
        """How much of `journal` the peer has been sent, if the journal serves it."""
        return self._sent if self._journal is journal else None

    # --- A message from the peer -------------------------------------------------------------

    def hear(self, parsed: sync_message.SyncMessage) -> Heard:
        """A sync message arrived: it answers what the peer was last sent, whatever it says."""
        answered, self._awaiting = self._awaiting is not None, None
        first, self._heard = not self._heard, True
        self._loading_whole = False
        empty = not (parsed.heads or parsed.need or parsed.changes)
        return Heard(answered, first and parsed.flags is not None and empty)

    def send_whole(self, whole: Whole) -> bytes:
        """The whole document in one V2 message; rounds leave the peer alone until it answers."""
        self._loading_whole = True
        return sync_message.whole_document(whole.heads, whole.data)

    def receive(self, doc: am.Document, journal: Journal | None, parsed: sync_message.SyncMessage, answered: bool) -> Reception:
        """Take the message into the state (call under the document's lock; `journal` is the copy's).

        Raises ProtocolError if rc1 refuses the message, DocumentPoisoned if it panics on it.
        """
        if self._journal is not None:
            caught_up = self._receive_caught_up(doc, journal, parsed, answered)
            if caught_up is not None:
                return caught_up
            self._journal, self._state = None, am.SyncState()
        try:
            doc.receive_sync_message(self._rc1(), am.Message.decode(sync_message.encode(parsed)))
        except Exception as exc:
            raise ProtocolError(f"Automerge refused the sync message: {exc}") from None
        except BaseException as exc:
            if type(exc).__module__ != "pyo3_runtime":
                raise
            raise DocumentPoisoned("Automerge could not process the sync message") from None
        reply = self._generate(doc)
        heads = tuple(sorted(doc.get_heads()))
        if tuple(sorted(parsed.heads)) == heads and not parsed.need and not self._pending and journal is not None:
            # The peer holds everything this server has: from now on the journal tells what it lacks.
            self._journal, self._sent, self._heads = journal, journal.end, parsed.heads
            self._theirs.clear()
            self._state = None
            return Reception(reply)
        # rc1 can leave both sides without a change the other holds (a Bloom filter false
        # positive): it then answers nothing while "in flight", or keeps answering with heads
        # and no `need`, and the two sides trade identical messages for ever. Ask for the
        # peer's heads we lack and send what it needs, by hand, whatever rc1 answered.
        unknown = {h for h in parsed.heads if not document.has_change(doc, h)} - self._pending_hashes
        wanted = [h for h in parsed.need if document.has_change(doc, h)]
        return Reception(reply, final=False, heads=heads, unknown=unknown, wanted=wanted)

    def _receive_caught_up(
        self, doc: am.Document, journal: Journal | None, parsed: sync_message.SyncMessage, answered: bool
    ) -> Reception | None:
        """Take in a message from a peer that was caught up, from the journal; None if rc1 must take over.

        The usual messages of a live document, an acknowledgement or a few new changes from a peer
        that holds everything else, cost rc1 a walk of the whole history each (milliseconds once a
        norm has thousands of changes); here they cost a look at the heads.
        """
        if journal is None or journal is not self._journal or parsed.need or self._pending:
            return None
        heads = doc.get_heads()
        if any(head not in journal.positions and head not in heads for head in parsed.heads):
            return None  # the peer has something this server lacks: rc1 finds out what
        lacking = journal.since(self._sent)
        if lacking is None:
            return None
        self._heads = parsed.heads
        # Its own changes are acknowledged in the room's next round, together with what others wrote
        # meanwhile: a writer hears from the server once per round, not once per message it sends.
        self._acknowledge = self._acknowledge or bool(parsed.changes)
        # What was held back for it goes out in the room's next round.
        return Reception(round=bool(parsed.changes) or (answered and bool(lacking)))

    def answer(self, parsed: sync_message.SyncMessage, reception: Reception, fetched: tuple[bytes, ...]) -> bytes | None:
        """The answer to the message `receive` took in, given the stored changes `reception.fetch()` named."""
        if reception.final:
            return reception.reply
        reply = reception.reply
        if reply is not None:
            if reception.unknown or reception.wanted:
                reply = reception.completed(reply, fetched)
        elif reception.unknown or reception.wanted or self._missing:
            need = reception.unknown | self._missing
            # The last summary rc1 made for this peer: a message without one would stop the peer sending.
            message = sync_message.SyncMessage(sync_message.V1, reception.heads, tuple(sorted(need)), self._last_have, fetched)
            reply = sync_message.encode(message)
        if reply is None:
            return None
        # A message that brought nothing (no changes, no need) does not get again the answer the peer
        # already has: two rc1 peers whose heads differ would otherwise trade that pair of messages
        # as fast as the socket goes, until the flood limit cut the peer off.
        if parsed.changes or parsed.need:
            self._last_answer = None
            return reply
        answer = sync_message.decode(reply)
        gist = (answer.heads, answer.need, answer.have, answer.changes)
        if gist == self._last_answer:
            return None
        self._last_answer = gist
        return reply

    # --- Changes stored --------------------------------------------------------------------

    def wrote(self, changes: Iterable[Change]) -> None:
        """The peer's own changes were stored: none of them goes back to it."""
        if self._journal is not None:
            self._theirs.update(change.hash for change in changes)

    def hold(self, chunks: list[bytes], hashes: set[bytes], missing: set[bytes]) -> None:
        """The peer's changes (`chunks`, with these hashes) wait for `missing`, which every answer asks for."""
        self._pending, self._pending_hashes, self._missing = tuple(chunks), hashes, missing

    def stored_held(self) -> None:
        """The peer's changes, with any held back, are stored."""
        self._pending, self._pending_hashes, self._missing = (), set(), set()

    def offer(self, round_: Round) -> bytes | None:
        """What the peer lacks in this round (call under the document's lock); None if nothing goes now."""
        if self._journal is not None:
            lacking = round_.journal.since(self._sent) if round_.journal is self._journal else None
            if lacking is not None:
                return self._offer_caught_up(round_, self._journal, lacking)
            self._fall_back(round_.doc)
        elif self._loading_whole:
            return None  # rc1 knows nothing of it yet; its answer says what it lacks
        reply = self._generate(round_.doc)
        if reply is not None:
            self._last_answer = None
        return reply

    def _offer_caught_up(self, round_: Round, journal: Journal, lacking: list[Change]) -> bytes | None:
        """What a caught-up peer lacks in this round; `journal`, the round's, serves the peer."""
        if self._theirs or self._acknowledge:
            # Its own changes to acknowledge (and to leave out): a message of its own.
            changes = tuple(change.data for change in lacking if change.hash not in self._theirs)
            if changes:
                self._awaiting = round_.now
            self._sent = journal.end
            self._theirs.clear()
            self._acknowledge = False
            return sync_message.at_heads(round_.heads, changes)
        if not lacking:
            return None
        if self._awaiting is not None and round_.now - self._awaiting < round_.answer_seconds:
            # Still busy with the last changes it was sent: these wait for its answer and then go in
            # one message (the answer asks for a round).
            round_.held = True
            return None
        message = round_.shared(self._sent, lacking)
        self._sent = journal.end
        self._awaiting = round_.now
        return message

    def _fall_back(self, doc: am.Document) -> None:
        """Hand a caught-up peer back to rc1, with a sync state that knows the heads the peer last reported."""
        state = am.SyncState()
        self._journal, self._state = None, state
        try:
            doc.receive_sync_message(state, am.Message.decode(sync_message.at_heads(self._heads)))
        except BaseException as exc:  # rc1 refused (or panicked): start over, as with a new peer
            if not isinstance(exc, Exception) and type(exc).__module__ != "pyo3_runtime":
                raise
            self._state = am.SyncState()

    def _rc1(self) -> am.SyncState:
        """rc1's sync state for the peer, which exists whenever the journal does not serve it."""
        if self._state is None:
            raise RuntimeError("the journal serves this peer: it has no rc1 sync state")
        return self._state

    def _generate(self, doc: am.Document) -> bytes | None:
        """rc1's next sync message for this peer, from the document as committed (call under its lock)."""
        try:
            message = doc.generate_sync_message(self._rc1())
        except Exception as exc:
            log.warning("sync.generate_failed", document=document.document_url(self.document_id), error=str(exc))
            return None
        if message is None:
            return None
        data = message.encode()
        parsed = sync_message.decode(data)
        if parsed.have:
            self._last_have = parsed.have
        if self._missing and any(not document.has_change(doc, h) for h in self._missing):
            # Ask for what the held-back changes depend on, not for the held-back changes themselves.
            need = (set(parsed.need) - self._pending_hashes) | self._missing
            data = sync_message.encode(parsed.with_need(need))
        return data
