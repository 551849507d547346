"""One peer's sync state as a state machine: each event gives what the peer is sent, without sockets or a database.

The server side is a resident document and its journal, as the store keeps them; the peer is an
Automerge replica that merges what it is sent and says which heads it holds.
"""

from __future__ import annotations

import os

import automerge.core as am
from hypothesis import given, settings
from hypothesis import strategies as st

from norms import document
from norms.store import Journal, Whole
from services.realtime import sync_message
from services.realtime.peer_state import PeerSync, Round

ANSWER_SECONDS = 1.0
TEXT = "Platforms publish their ranking criteria."


class Server:
    """A resident copy and its journal, written to by other members."""

    def __init__(self) -> None:
        self.doc, _made = document.create("Title", TEXT, os.urandom(16))
        self.journal = Journal()
        self.other = os.urandom(16)

    def write(self, letter: str, actor: bytes | None = None) -> list[document.Change]:
        changes = document.split_changes(b"".join(document.apply_splices(self.doc, actor or self.other, [(0, 0, letter)])))
        self.journal.add(changes)
        return changes

    def merge(self, changes: list[document.Change]) -> None:
        """Store changes a peer wrote."""
        document.merge_changes(self.doc, changes)
        self.journal.add(changes)

    def round(self, now: float) -> Round:
        return Round(self.doc, self.journal, now, ANSWER_SECONDS)


class Peer:
    """A replica on the other side of a `PeerSync`: what it was sent, merged, message by message."""

    def __init__(self, server: Server, holding: bool = True) -> None:
        self.server = server
        self.sync = PeerSync(os.urandom(16))
        self.doc = document.load(server.doc.save()) if holding else None
        self.received: list[list[document.Change]] = []

    def says(self, message: sync_message.SyncMessage) -> bytes | None:
        """The peer sends `message`; what the server answers."""
        heard = self.sync.hear(message)
        reception = self.sync.receive(self.server.doc, self.server.journal, message, heard.answered)
        fetched = tuple(change.data for change in self.server.journal.entries if change.hash in set(reception.fetch()))
        return self.take(self.sync.answer(message, reception, fetched))

    def answers(self) -> bytes | None:
        """The peer says it holds its heads (as a caught-up automerge-repo peer acknowledges)."""
        return self.says(sync_message.decode(sync_message.at_heads(self.doc.get_heads())))

    def offered(self, round_: Round) -> bytes | None:
        return self.take(self.sync.offer(round_))

    def take(self, data: bytes | None) -> bytes | None:
        if data is None:
            return None
        message = sync_message.decode(data)
        if message.version == sync_message.V2:
            self.doc = document.load(message.changes[0])
            return data
        changes = document.split_changes(b"".join(message.changes)) if message.changes else []
        self.received.append(changes)
        if changes:
            document.merge_changes(self.doc, changes)
        return data

    def write(self, letter: str) -> list[document.Change]:
        """An edit of the peer's own, stored by the server (as the connection stores it before the hub hears the message)."""
        changes = document.split_changes(b"".join(document.apply_splices(self.doc, self.doc.get_actor(), [(0, 0, letter)])))
        self.server.merge(changes)
        self.sync.wrote(changes)
        return changes

    def sends(self, changes: list[document.Change]) -> bytes | None:
        """The message that carried the peer's changes, once they are stored; what the server answers."""
        return self.says(sync_message.decode(sync_message.at_heads(self.doc.get_heads(), tuple(change.data for change in changes))))

    @property
    def text(self) -> str:
        return document.read_text(self.doc)


def hashes(changes: list[document.Change]) -> list[bytes]:
    return [change.hash for change in changes]


def caught_up(server: Server) -> Peer:
    peer = Peer(server)
    peer.answers()  # it holds exactly the server's heads: the journal serves it from here on
    return peer


def test_a_peer_that_holds_nothing_gets_the_whole_document_and_is_left_alone_until_it_answers():
    server = Server()
    peer = Peer(server, holding=False)
    first = sync_message.decode(am.Document().generate_sync_message(am.SyncState()).encode())  # an empty replica's request
    heard = peer.sync.hear(first)
    assert heard.wants_whole
    peer.take(peer.sync.send_whole(Whole(tuple(sorted(server.doc.get_heads())), server.doc.save())))
    assert peer.text == TEXT

    server.write("a")
    assert peer.offered(server.round(10.0)) is None  # busy loading: its answer says what it lacks
    assert peer.answers() is not None
    assert peer.text == "a" + TEXT


def test_only_a_first_empty_message_from_a_peer_that_reads_whole_documents_asks_for_one():
    server = Server()
    empty = sync_message.decode(am.Document().generate_sync_message(am.SyncState()).encode())
    assert not Peer(server).sync.hear(sync_message.SyncMessage(sync_message.V1, (), (), empty.have, ())).wants_whole  # no flags: V1 only
    peer = Peer(server, holding=False)
    assert peer.sync.hear(empty).wants_whole
    assert not peer.sync.hear(empty).wants_whole


def test_a_peer_that_has_not_answered_gets_the_next_changes_together_once_it_answers():
    server = Server()
    peer = caught_up(server)
    first = server.write("a")
    assert peer.offered(server.round(10.0)) is not None
    assert peer.received[-1] == first

    later = server.write("b") + server.write("c")
    for now in (10.1, 10.2):
        round_ = server.round(now)
        assert peer.offered(round_) is None
        assert round_.held  # the hub sets its timer for these

    heard = peer.sync.hear(sync_message.decode(sync_message.at_heads(peer.doc.get_heads())))
    assert heard.answered
    reception = peer.sync.receive(
        server.doc, server.journal, sync_message.decode(sync_message.at_heads(peer.doc.get_heads())), heard.answered
    )
    assert reception.round  # the room runs a round for what was held back
    assert peer.offered(server.round(10.3)) is not None
    assert hashes(peer.received[-1]) == hashes(later)  # in one message
    assert peer.text == "cba" + TEXT


def test_a_peer_that_never_answers_gets_the_held_back_changes_together_after_the_timeout():
    server = Server()
    peer = caught_up(server)
    server.write("a")
    peer.offered(server.round(10.0))
    later = server.write("b") + server.write("c")
    assert peer.offered(server.round(10.0 + ANSWER_SECONDS / 2)) is None
    assert peer.offered(server.round(10.0 + ANSWER_SECONDS)) is not None
    assert hashes(peer.received[-1]) == hashes(later)
    assert peer.text == "cba" + TEXT


def test_caught_up_peers_at_one_position_share_one_message_per_round():
    server = Server()
    first, second = caught_up(server), caught_up(server)
    server.write("a")
    round_ = server.round(10.0)
    assert first.sync.offer(round_) is second.sync.offer(round_)
    round_.close([first.sync, second.sync])
    assert server.journal.since(server.journal.end) == [] and not server.journal.entries  # both have it: let go


def test_a_caught_up_writer_is_acknowledged_in_the_next_round_without_its_own_changes():
    server = Server()
    peer = caught_up(server)
    own = peer.write("w")
    others = server.write("o")
    message = sync_message.decode(sync_message.at_heads(peer.doc.get_heads(), tuple(change.data for change in own)))
    reception = peer.sync.receive(server.doc, server.journal, message, peer.sync.hear(message).answered)
    assert reception.round and peer.sync.answer(message, reception, ()) is None  # not answered at once: in the next round

    sent = sync_message.decode(peer.offered(server.round(10.0)))
    assert hashes(peer.received[-1]) == hashes(others)  # never its own
    assert set(sent.heads) == set(server.doc.get_heads())


def test_a_caught_up_peer_that_sends_changes_the_server_has_hears_its_heads_in_the_next_round():
    server = Server()
    peer = caught_up(server)
    own = peer.write("w")
    peer.sends(own)
    peer.offered(server.round(10.0))
    again = sync_message.decode(
        sync_message.at_heads(peer.doc.get_heads(), tuple(change.data for change in own))
    )  # sent again: nothing stored
    assert peer.says(again) is None
    acknowledged = sync_message.decode(peer.offered(server.round(10.1)))
    assert set(acknowledged.heads) == set(server.doc.get_heads()) and not acknowledged.changes


def test_a_message_that_brings_nothing_new_is_not_answered_twice():
    server = Server()
    peer = Peer(server)
    claimed = sync_message.SyncMessage(sync_message.V1, (os.urandom(32),), (), (), ())
    first = peer.says(claimed)
    assert first is not None
    assert sync_message.decode(first).need == claimed.heads  # it asks for the head it lacks
    assert peer.says(claimed) is None


def test_changes_held_back_make_every_answer_ask_for_what_they_depend_on():
    server = Server()
    peer = Peer(server)
    actor = peer.doc.get_actor()
    absent = document.split_changes(b"".join(document.apply_splices(peer.doc, actor, [(0, 0, "x")])))  # never reached the server
    orphan = document.split_changes(b"".join(document.apply_splices(peer.doc, actor, [(0, 0, "y")])))
    peer.sync.hold([change.data for change in orphan], set(hashes(orphan)), set(hashes(absent)))
    assert peer.sync.held == tuple(change.data for change in orphan)
    answer = sync_message.decode(peer.says(sync_message.decode(sync_message.at_heads(server.doc.get_heads()))))
    assert set(hashes(absent)) <= set(answer.need) and not set(hashes(orphan)) & set(answer.need)
    peer.sync.stored_held()
    assert peer.sync.held == ()


def test_a_peer_whose_server_copy_was_loaded_again_is_synced_from_the_heads_it_last_reported():
    server = Server()
    peer = caught_up(server)
    server.write("a")
    server.journal = Journal()  # the copy was dropped and loaded again: a new journal
    assert peer.offered(server.round(10.0)) is not None
    assert peer.text == "a" + TEXT


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["other writes", "peer writes", "peer answers", "round", "later round"]), max_size=25))
def test_a_caught_up_peer_ends_up_with_every_change_once_and_never_its_own(events):
    server = Server()
    peer = caught_up(server)
    own: set[bytes] = set()
    now = 10.0
    for event in events:
        if event == "other writes":
            server.write("o")
        elif event == "peer writes":
            written = peer.write("p")
            own |= set(hashes(written))
            peer.sends(written)
        elif event == "peer answers":
            peer.answers()
        else:
            now += 0.1 if event == "round" else ANSWER_SECONDS
            peer.offered(server.round(now))
    peer.answers()
    peer.offered(server.round(now + ANSWER_SECONDS))
    assert set(peer.doc.get_heads()) == set(server.doc.get_heads())
    received = [change.hash for message in peer.received for change in message]
    assert len(received) == len(set(received))
    assert not own & set(received)
