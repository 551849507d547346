import hashlib
import os
from dataclasses import replace
from itertools import islice

import automerge.core as am
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from norms import document
from norms.document import InvalidChange, InvalidDocumentId, MissingDependencies, SpliceOutOfRange
from tests.fixtures.environment import load_trace
from tests.jspeer import js_create, js_edit, need_js_peer

ALICE = bytes.fromhex("a1" * 16)
BOB = bytes.fromhex("b0b0b0b0")  # actors need not be 16 bytes


def apply_to_str(text: str, splices) -> str:
    for index, delete, insert in splices:
        text = text[:index] + insert + text[index + delete :]
    return text


def new_norm(text="Members share data.", title="Data norm"):
    doc, changes = document.create(title, text, ALICE)
    return doc, changes


# --- ids and urls


def test_document_url_round_trips_through_parse():
    doc_id = document.new_document_id()
    url = document.document_url(doc_id)

    assert url.startswith("automerge:")
    assert document.parse_document_id(url) == doc_id
    assert document.parse_document_id(url.removeprefix("automerge:")) == doc_id


def test_document_url_matches_automerge_repo():
    # Computed with automerge-repo 2.5's bs58check for the same 16 bytes.
    doc_id = bytes(i * 17 % 256 for i in range(16))
    assert document.document_url(doc_id) == "automerge:148vjpuxYXixb8DcbaWyeGv2q3u"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "automerge:",
        "automerge:nope!",
        "automerge:148vjpuxYXixb8DcbaWyeGv2q3v",
        "automerge:148vjpuxYXixb8DcbaWyeGv2q3u#abc",
        "2NEpo7TZRRrLZSi2U",
    ],
)
def test_parse_document_id_rejects_what_is_not_an_id(value):
    with pytest.raises(InvalidDocumentId):
        document.parse_document_id(value)


# --- create and read


def test_create_holds_title_and_text_one_element_per_character():
    doc, changes = new_norm("héllo 😀")

    assert document.read_title(doc) == "Data norm"
    assert document.read_text(doc) == "héllo 😀"
    body = doc.get(am.ROOT, "body")[1]
    assert [value[1] for value, _ in doc.values(body)] == list("héllo 😀")
    assert len(changes) == 1
    assert document.heads_hex(doc) == [hashlib.sha256(changes[0][8:]).hexdigest()]


def test_reads_at_earlier_heads():
    doc, _ = new_norm("one")
    first = doc.get_heads()
    document.apply_splices(doc, BOB, [(3, 0, " two")], title="Renamed")

    assert document.read_text(doc, first) == "one"
    assert document.read_title(doc, first) == "Data norm"
    assert document.read_text(doc) == "one two"
    assert document.read_title(doc) == "Renamed"


# --- editing


def test_splices_apply_in_order_in_code_points():
    doc, _ = new_norm("aé😀b")
    splices = [(1, 1, "e\u0301"), (4, 0, "🎉"), (0, 0, "«"), (7, 0, "»")]

    document.apply_splices(doc, BOB, splices)

    assert document.read_text(doc) == apply_to_str("aé😀b", splices) == "«ae\u0301😀🎉b»"


def test_one_call_makes_one_change():
    doc, _ = new_norm("abc")

    made = document.apply_splices(doc, BOB, [(0, 1, "xyz"), (3, 2, "")], title="New")

    assert len(made) == 1
    (change,) = document.split_changes(made[0])
    assert change.actor == BOB
    assert change.ops == 1 + 3 + 3  # title, 3 deletes, 3 inserts
    assert doc.get_heads() == [change.hash]


def test_nothing_to_do_makes_no_change():
    doc, _ = new_norm()
    heads = doc.get_heads()

    assert document.apply_splices(doc, BOB, [(0, 0, "")], title="Data norm") == []
    assert doc.get_heads() == heads


@pytest.mark.parametrize(
    "splices",
    [
        [(4, 0, "x")],  # past the end
        [(2, 2, "")],  # deletes past the end
        [(-1, 0, "x")],
        [(0, -1, "")],
        [(0, 0, "ab"), (0, 6, "")],  # valid alone, out of range after the first
        [(True, 0, "x")],
    ],
)
def test_out_of_range_splice_changes_nothing(splices):
    doc, _ = new_norm("abc")
    heads = doc.get_heads()

    with pytest.raises(SpliceOutOfRange):
        document.apply_splices(doc, BOB, splices, title="Other")

    assert doc.get_heads() == heads
    assert document.read_text(doc) == "abc"
    assert document.read_title(doc) == "Data norm"


def test_concurrent_edits_from_the_same_version_are_both_kept():
    doc, _ = new_norm("The network shares data.")
    version = doc.get_heads()

    document.apply_splices(doc, ALICE, [(4, 0, "open ")], base_heads=version)
    bob_made = document.apply_splices(doc, BOB, [(23, 0, " openly")], base_heads=version)

    assert document.read_text(doc) == "The open network shares data openly."
    (bob_change,) = document.split_changes(bob_made[0])
    assert bob_change.deps == tuple(version)
    assert len(doc.get_heads()) == 2


def test_splices_against_an_old_version_are_checked_against_that_version():
    doc, _ = new_norm("short")
    version = doc.get_heads()
    document.apply_splices(doc, ALICE, [(5, 0, " and now much longer")])

    with pytest.raises(SpliceOutOfRange):
        document.apply_splices(doc, BOB, [(10, 0, "x")], base_heads=version)


def test_unknown_base_heads_are_refused():
    doc, _ = new_norm()
    unknown = hashlib.sha256(b"nothing").digest()

    with pytest.raises(MissingDependencies) as raised:
        document.apply_splices(doc, BOB, [(0, 0, "x")], base_heads=[unknown])

    assert raised.value.hashes == [unknown]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_splices_edit_like_python_strings(data):
    chars = st.characters(blacklist_categories=("Cs",))
    text = data.draw(st.text(chars, max_size=20))
    doc, _ = document.create("t", text, ALICE)
    for _ in range(data.draw(st.integers(1, 4))):
        splices = []
        for _ in range(data.draw(st.integers(0, 5))):
            index = data.draw(st.integers(0, len(text)))
            delete = data.draw(st.integers(0, len(text) - index))
            insert = data.draw(st.text(chars, max_size=5))
            splices.append((index, delete, insert))
            text = apply_to_str(text, [splices[-1]])
        document.apply_splices(doc, BOB, splices)
        assert document.read_text(doc) == text


def test_replaying_the_paper_trace_matches_python_strings():
    trace = load_trace("automerge-paper.json.gz")
    text = trace["startContent"]
    doc, _ = document.create("paper", text, ALICE)
    txns = iter(trace["txns"][:5000])
    while batch := [patch for txn in islice(txns, 50) for patch in txn["patches"]]:
        document.apply_splices(doc, BOB, batch)
        text = apply_to_str(text, batch)
        assert document.read_text(doc) == text
    assert len(text) > 1000


# --- changes from peers


def edited_norm():
    """A norm with three changes: create, Alice's edit, Bob's edit."""
    doc, changes = new_norm("abc")
    changes += document.apply_splices(doc, ALICE, [(3, 0, "def")])
    changes += document.apply_splices(doc, BOB, [(0, 1, "A")])
    return doc, changes


def test_split_changes_reads_concatenated_changes():
    doc, changes = edited_norm()

    split = document.split_changes(b"".join(changes))

    assert [c.data for c in split] == changes
    assert [(c.actor, c.seq) for c in split] == [(ALICE, 1), (ALICE, 2), (BOB, 1)]
    assert [c.ops for c in split] == [5, 3, 2]
    assert split[2].hash == doc.get_heads()[0]
    assert split[1].deps == (split[0].hash,) and split[2].deps == (split[1].hash,)
    assert split[2].hash_hex == doc.get_heads()[0].hex()


def test_split_changes_reads_a_compressed_change():
    doc, _ = new_norm("x" * 2000)
    (change,) = doc.get_changes([])
    assert change.bytes[8] == 2  # rc1 deflates a large change

    (split,) = document.split_changes(change.bytes)

    assert split.hash == change.hash
    assert split.ops == len(change) == 2002


@pytest.mark.parametrize("text", ["", "abc", "x" * 2000, "aé😀b\n" * 400])
def test_own_changes_are_what_split_changes_reads_from_their_bytes(text):
    doc, made = new_norm(text)
    assert document.own_changes(doc) == document.split_changes(b"".join(made))


def test_split_changes_reads_a_saved_document_and_what_follows_it():
    doc, changes = edited_norm()
    more = document.apply_splices(doc, ALICE, [(0, 0, ">")])

    split = document.split_changes(document.load(b"".join(changes)).save() + more[0])

    assert [c.hash for c in split] == [c.hash for c in doc.get_changes([])]


def test_split_changes_returns_each_change_once():
    _, changes = edited_norm()

    assert len(document.split_changes(changes[0] + b"".join(changes))) == 3


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x85\x6f\x4a\x83", b"\x85\x6f\x4a\x83\0\0\0\0\x07\x00"])
def test_split_changes_refuses_garbage(data):
    with pytest.raises(InvalidChange):
        document.split_changes(data)


def test_split_changes_refuses_every_truncation():
    _, changes = edited_norm()
    data = b"".join(changes)
    ends = [len(changes[0]), len(changes[0]) + len(changes[1])]

    for cut in range(1, len(data)):
        if cut in ends:
            continue
        with pytest.raises(InvalidChange):
            document.split_changes(data[:cut])


def test_split_changes_refuses_a_flipped_bit():
    _, changes = edited_norm()

    for position in range(len(changes[1])):
        flipped = bytearray(changes[1])
        flipped[position] ^= 0x10
        with pytest.raises(InvalidChange):
            document.split_changes(bytes(flipped))


def test_split_changes_never_lets_a_panic_through():
    # Corrupt the body but fix the checksum, so rc1's own parser meets the damage;
    # rc1 panics on some of these.
    _, changes = edited_norm()
    data = changes[1]
    outcomes = set()
    for position in range(10, len(data)):
        for bit in (0x01, 0x80):
            corrupt = bytearray(data)
            corrupt[position] ^= bit
            corrupt[4:8] = hashlib.sha256(corrupt[8:]).digest()[:4]
            try:
                document.split_changes(bytes(corrupt))
                outcomes.add("accepted")
            except InvalidChange:
                outcomes.add("refused")
    assert "refused" in outcomes


def test_merge_changes_brings_a_copy_up_to_date():
    doc, changes = edited_norm()
    copy = document.load(changes[0])

    merged = document.merge_changes(copy, document.split_changes(b"".join(changes[1:])))

    assert document.read_text(copy) == document.read_text(doc) == "Abcdef"
    assert copy.get_heads() == doc.get_heads()
    assert [c.data for c in merged] == changes[1:]


def test_merge_changes_ignores_changes_already_held():
    doc, changes = edited_norm()
    heads = doc.get_heads()

    assert document.merge_changes(doc, document.split_changes(b"".join(changes))) == []
    assert doc.get_heads() == heads


def test_merge_changes_with_missing_dependencies_changes_nothing():
    _, changes = edited_norm()
    copy = document.load(changes[0])
    heads = copy.get_heads()
    alices, bobs = document.split_changes(b"".join(changes[1:]))

    with pytest.raises(MissingDependencies) as raised:
        document.merge_changes(copy, [bobs])

    assert raised.value.hashes == [alices.hash]
    assert alices.hash.hex() in str(raised.value)
    assert copy.get_heads() == heads
    assert document.read_text(copy) == "abc"
    # Nothing was queued either: the missing change alone does not bring Bob's in.
    document.merge_changes(copy, [alices])
    assert document.read_text(copy) == "abcdef"


def with_checksum(chunk: bytes) -> bytes:
    """The chunk with its checksum recomputed, so that only its content is wrong."""
    return chunk[:4] + hashlib.sha256(chunk[8:]).digest()[:4] + chunk[8:]


def test_merge_changes_refuses_what_rc1_would_choke_on():
    _, changes = edited_norm()
    refused = 0
    for position in range(10, len(changes[1])):
        for bit in (0x01, 0x02, 0x10, 0x80):
            corrupt = bytearray(changes[1])
            corrupt[position] ^= bit
            copy = document.load(changes[0])
            try:
                document.merge_changes(copy, document.split_changes(with_checksum(corrupt)))
            except MissingDependencies:
                continue
            except InvalidChange:
                refused += 1
                continue
            document.read_title(copy)  # a merged document can be read
            document.read_text(copy)
    assert refused  # among them rc1 panics, which must come out as InvalidChange


def test_a_saved_document_loads_back_to_the_same_heads_and_text():
    doc, _ = edited_norm()

    loaded = document.load(document.save(doc))
    assert loaded.get_heads() == doc.get_heads()
    assert document.read_text(loaded) == document.read_text(doc)


def test_load_refuses_garbage():
    with pytest.raises(InvalidChange):
        document.load(b"not a document")


def test_merge_changes_accepts_changes_made_on_an_older_version():
    doc, changes = new_norm("abc")
    peer = document.load(changes[0], actor=BOB)
    document.apply_splices(doc, ALICE, [(3, 0, "!")])
    document.apply_splices(doc, ALICE, [(0, 0, "¡")])
    from_peer = document.apply_splices(peer, BOB, [(1, 1, "B")])

    document.merge_changes(doc, document.split_changes(from_peer[0]))

    assert document.read_text(doc) == "¡aBc!"


# --- history and authorship


def test_authorship_of_two_actors():
    doc, _ = new_norm("hello world")
    document.apply_splices(doc, BOB, [(5, 0, ", dear"), (0, 1, "H")])

    assert document.authorship(doc) == [
        (0, 1, BOB.hex()),
        (1, 5, ALICE.hex()),
        (5, 11, BOB.hex()),
        (11, 17, ALICE.hex()),
    ]
    assert document.read_text(doc) == "Hello, dear world"


def test_authorship_counts_code_points():
    doc, _ = new_norm("😀é")
    document.apply_splices(doc, BOB, [(1, 0, "🎉")])

    assert document.authorship(doc) == [(0, 1, ALICE.hex()), (1, 2, BOB.hex()), (2, 3, ALICE.hex())]


def test_text_after_each_change():
    doc, changes = edited_norm()
    hashes = [c.hash for c in document.split_changes(b"".join(changes))]

    assert [document.text_after(doc, h) for h in hashes] == ["abc", "abcdef", "Abcdef"]
    with pytest.raises(MissingDependencies):
        document.text_after(doc, hashlib.sha256(b"no such change").digest())


def element_diff(doc, change) -> tuple[int, int]:
    """(inserted, deleted) by comparing the body's element ids before and after ``change``."""

    def elements(heads):
        body = doc.get(am.ROOT, "body", heads) if heads else None
        return set() if body is None else {element for _, element in doc.values(body[1], heads)}

    before, after = elements(list(change.deps)), elements([change.hash])
    return len(after - before), len(before - after)


def body_of(doc) -> bytes:
    return doc.get(am.ROOT, "body")[1]


def test_count_text_ops_counts_body_characters():
    doc, changes = edited_norm()

    stats = [document.count_text_ops(c) for c in document.split_changes(b"".join(changes))]

    assert stats == [(3, 0), (3, 0), (1, 1)]
    assert stats[2].inserted == 1 and stats[2].deleted == 1


def test_count_text_ops_nets_out_what_a_change_undid_itself():
    doc, _ = new_norm("hello world")
    # ", dear" and "H" go in; then "lo, " goes: two of Alice's characters, two of its own.
    made = document.apply_splices(doc, BOB, [(5, 0, ", dear"), (0, 1, "H"), (3, 4, "")])

    (change,) = document.split_changes(made[0])

    assert document.read_text(doc) == "Heldear world"
    assert document.count_text_ops(change) == (5, 3) == element_diff(doc, change)


def test_count_text_ops_reads_a_compressed_change():
    doc, _ = new_norm("x" * 5000)
    made = document.apply_splices(doc, BOB, [(10, 2000, "y" * 3000)])
    (change,) = document.split_changes(made[0])
    assert change.data[8] == 2  # deflated

    assert document.count_text_ops(change) == (3000, 2000)


def test_count_text_ops_with_the_body_skips_other_text():
    # JS makes the title Text too: its characters are no body characters.
    doc, changes = new_norm("body", title="Title")
    title = doc.fork()
    with title.transaction() as tx:
        tx.put_object(am.ROOT, "title", am.ObjType.Text)
    with title.transaction() as tx:
        tx.insert(title.get(am.ROOT, "title")[1], 0, am.ScalarType.Str, "T")
    made = [c for c in title.get_changes(doc.get_heads())]
    typed = document.split_changes(made[-1].bytes)[0]

    assert document.count_text_ops(typed) == (1, 0)
    assert document.count_text_ops(typed, body_of(title)) == (0, 0)
    (created,) = document.split_changes(changes[0])
    assert document.count_text_ops(created, body_of(doc)) == (4, 0)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_count_text_ops_matches_the_element_ids(data):
    chars = st.characters(blacklist_categories=("Cs",))
    text = data.draw(st.text(chars, max_size=30))
    doc, made = document.create("t", text, ALICE)
    for n in range(data.draw(st.integers(1, 5))):
        splices = []
        for _ in range(data.draw(st.integers(0, 6))):
            index = data.draw(st.integers(0, len(text)))
            delete = data.draw(st.integers(0, len(text) - index))
            insert = data.draw(st.text(chars, max_size=6))
            splices.append((index, delete, insert))
            text = apply_to_str(text, [splices[-1]])
        title = data.draw(st.one_of(st.none(), st.text(chars, max_size=5)))
        made += document.apply_splices(doc, [ALICE, BOB][n % 2], splices, title=title)

    for change in document.split_changes(b"".join(made)):
        expected = element_diff(doc, change)
        assert document.count_text_ops(change) == expected
        assert document.count_text_ops(change, body_of(doc)) == expected


@pytest.mark.parametrize("data", [b"garbage", b"\x85\x6f\x4a\x83\0\0\0\0\x01\x05abc"])
def test_count_text_ops_refuses_garbage(data):
    _, changes = edited_norm()
    (change,) = document.split_changes(changes[2])

    with pytest.raises(InvalidChange):
        document.count_text_ops(replace(change, data=data))
    with pytest.raises(InvalidChange):
        document.count_text_ops(replace(change, data=change.data[:-3]))


def test_count_text_ops_never_crashes_on_a_corrupt_change():
    _, changes = edited_norm()
    (change,) = document.split_changes(changes[1])
    outcomes = set()
    for position in range(10, len(change.data)):
        for bit in (0x01, 0x02, 0x10, 0x40, 0x80):
            corrupt = bytearray(change.data)
            corrupt[position] ^= bit
            try:
                stats = document.count_text_ops(replace(change, data=with_checksum(corrupt)))
            except InvalidChange:
                outcomes.add("refused")
                continue
            assert stats.inserted >= 0 and stats.deleted >= 0
            outcomes.add("counted")
    assert outcomes == {"refused", "counted"}


# --- a JS peer (@automerge/automerge 3, through node)

JS_ACTOR = bytes.fromhex("c0" * 16)


def test_js_edit_merges_and_is_attributed_to_its_actor():
    need_js_peer()
    doc, _ = new_norm("a😀b world")

    changes = document.split_changes(js_edit(doc.save(), JS_ACTOR, 2, 1, "🎉!"))
    merged = document.merge_changes(doc, changes)

    assert document.read_text(doc) == "a😀🎉! world"
    assert merged == changes and [c.actor for c in changes] == [JS_ACTOR]
    assert document.authorship(doc) == [
        (0, 2, ALICE.hex()),
        (2, 4, JS_ACTOR.hex()),
        (4, 10, ALICE.hex()),
    ]


def test_js_changes_are_counted_like_their_element_ids():
    need_js_peer()
    doc, _ = new_norm("The network shares data.")
    edits = [(4, 0, "open "), (0, 4, ""), (5, 10, "é😀"), (0, 0, "x" * 40), (10, 30, "")]
    counts = []
    for index, delete, insert in edits:
        (change,) = document.split_changes(js_edit(doc.save(), JS_ACTOR, index, delete, insert))
        document.merge_changes(doc, [change])
        counts.append(document.count_text_ops(change, body_of(doc)))
        assert counts[-1] == element_diff(doc, change)
        assert document.count_text_ops(change) == counts[-1]

    assert counts == [(5, 0), (0, 4), (2, 10), (40, 0), (0, 30)]


def test_a_js_created_document_loads_and_reads():
    need_js_peer()

    doc = document.load(js_create("Données ouvertes", "Members share data 😀."))

    assert document.read_title(doc) == "Données ouvertes"
    assert document.read_text(doc) == "Members share data 😀."
    (change,) = document.split_changes(doc.save())
    assert document.count_text_ops(change, body_of(doc)) == (21, 0) == element_diff(doc, change)
    # Without the body, the title's characters (JS makes it Text) count too.
    assert document.count_text_ops(change) == (21 + 16, 0)
    document.apply_splices(doc, BOB, [(0, 7, "Everyone")], title="Open data")
    assert document.read_title(doc) == "Open data"
    assert document.read_text(doc) == "Everyone share data 😀."


def test_has_change():
    doc, changes = edited_norm()

    assert all(document.has_change(doc, c.hash) for c in document.split_changes(b"".join(changes)))
    assert not document.has_change(doc, bytes(32))


def test_change_hash_names_raw_and_compressed_change_chunks_as_automerge_does():
    doc, _created = document.create("Title", "", os.urandom(16))
    doc.set_actor(os.urandom(16))
    with doc.transaction() as tx:  # over 256 bytes of ops: rc1 compresses the change's columns
        tx.put(am.ROOT, "notes", am.ScalarType.Str, "a long paragraph of notes " * 40)
    change = doc.get_changes([])[-1]
    assert change.bytes != change.raw_bytes and change.bytes[8] == 2  # a compressed chunk
    assert document.change_hash(change.bytes) == document.change_hash(change.raw_bytes) == change.hash
    corrupted = change.raw_bytes[:-1] + bytes([change.raw_bytes[-1] ^ 1])
    for bad in (b"", b"garbage", corrupted, doc.save(), change.raw_bytes + change.raw_bytes):
        with pytest.raises(document.InvalidChange):
            document.change_hash(bad)
