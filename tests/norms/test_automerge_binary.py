"""Automerge's binary format as norms/automerge_binary.py reads it: LEB128, RLE columns, chunks."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norms import automerge_binary as binary
from norms import document
from norms.automerge_binary import InvalidChange, Reader, encode_sleb, encode_uleb
from services.realtime import sync_message

U64 = st.integers(min_value=0, max_value=2**64 - 1)
I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


# --- LEB128: worked examples (the DWARF specification's), then properties


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (2, "02"), (127, "7f"), (128, "8001"), (129, "8101"), (130, "8201"), (12857, "b964"), (624485, "e58e26")],
)
def test_unsigned_examples(value, encoded):
    assert encode_uleb(value).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).uleb() == value


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (2, "02"),
        (-2, "7e"),
        (63, "3f"),
        (64, "c000"),
        (-64, "40"),
        (-65, "bf7f"),
        (127, "ff00"),
        (-127, "817f"),
        (128, "8001"),
        (-128, "807f"),
        (-123456, "c0bb78"),
    ],
)
def test_signed_examples(value, encoded):
    assert encode_sleb(value).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).sleb() == value


@given(U64)
def test_unsigned_round_trips_in_as_few_bytes_as_it_takes(value):
    encoded = encode_uleb(value)
    reader = Reader(encoded)
    assert reader.uleb() == value and reader.done
    assert len(encoded) == max(1, -(-value.bit_length() // 7))


@given(I64)
def test_signed_round_trips_in_as_few_bytes_as_it_takes(value):
    encoded = encode_sleb(value)
    reader = Reader(encoded)
    assert reader.sleb() == value and reader.done
    # Two's complement: the bits of the magnitude (of ~value when negative), and a sign bit.
    assert len(encoded) == -(-((value if value >= 0 else ~value).bit_length() + 1) // 7)


@given(st.lists(st.one_of(U64.map(lambda v: ("u", v)), I64.map(lambda v: ("s", v))), max_size=20))
def test_a_run_of_integers_reads_back_in_order(values):
    reader = Reader(b"".join(encode_uleb(v) if kind == "u" else encode_sleb(v) for kind, v in values))
    assert [(kind, reader.uleb() if kind == "u" else reader.sleb()) for kind, _ in values] == values
    assert reader.done


@given(st.one_of(U64.map(encode_uleb), I64.map(encode_sleb)), st.data())
def test_an_integer_cut_short_is_refused(encoded, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(InvalidChange, match="truncated"):
        Reader(encoded[:cut], where="chunk 3").uleb()


def test_an_integer_longer_than_the_reader_allows_is_refused_with_its_error():
    assert Reader(encode_uleb(2**64 - 1)).uleb() == 2**64 - 1  # ten bytes: a u64
    with pytest.raises(InvalidChange, match="LEB128 integer too long"):
        Reader(b"\x80" * 10 + b"\x01").uleb()
    # A sync message's integers are rc1's u32: five bytes at most, refused as a sync message.
    with pytest.raises(sync_message.InvalidSyncMessage, match="LEB128 integer too long"):
        Reader(b"\x80" * 5 + b"\x01", error=sync_message.InvalidSyncMessage, leb_bytes=5).uleb()


def test_unsigned_holds_no_negative_number():
    with pytest.raises(ValueError, match="negative"):
        encode_uleb(-1)


# --- RLE columns


RUNS = st.lists(
    st.one_of(
        st.tuples(st.just("repeat"), st.integers(1, 1000), U64),
        st.tuples(st.just("literal"), st.lists(U64, min_size=1, max_size=5)),
        st.tuples(st.just("null"), st.integers(1, 1000)),
    ),
    max_size=10,
)


def _rle(runs) -> tuple[bytes, list[tuple[int, int | None]]]:
    """The column Automerge writes for `runs`, and the (rows, value) runs reading it gives."""
    out, expected = bytearray(), []
    for run in runs:
        if run[0] == "repeat":
            out += encode_sleb(run[1]) + encode_uleb(run[2])
            expected.append((run[1], run[2]))
        elif run[0] == "literal":
            out += encode_sleb(-len(run[1])) + b"".join(map(encode_uleb, run[1]))
            expected += [(1, value) for value in run[1]]
        else:
            out += encode_sleb(0) + encode_uleb(run[1])
            expected.append((run[1], None))
    return bytes(out), expected


@given(RUNS)
def test_rle_columns_read_back_as_their_runs(runs):
    column, expected = _rle(runs)
    assert binary.rle_runs(column, "column") == expected
    assert binary.count_rle_rows(column, "column") == sum(rows for rows, _ in expected)


# --- Chunks


def test_a_change_chunk_is_framed_checksummed_and_hashed_as_rc1_does():
    doc, [made] = document.create("Title", "Some text", os.urandom(16))
    [(offset, kind, chunk, body)] = list(binary.chunks(made))
    assert (offset, kind, chunk) == (0, binary.CHANGE_CHUNK, made)
    assert binary.chunk_hash(binary.CHANGE_CHUNK, body) == doc.get_heads()[0]
    assert binary.change_ops(binary.read_change_body(body, "chunk 0"), "chunk 0") == 2 + len("Some text")

    corrupted = bytearray(made)
    corrupted[-1] ^= 0xFF
    with pytest.raises(InvalidChange, match="checksum mismatch"):
        list(binary.chunks(bytes(corrupted)))
    with pytest.raises(InvalidChange, match="bad magic bytes"):
        list(binary.chunks(b"\x00" + made))
