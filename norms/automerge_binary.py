"""Reading Automerge's binary format: LEB128 integers, chunks, change bodies and their columns.

The one reader of these bytes in CoGov, for the changes and saved documents peers send
(norms/document.py) and the sync messages that carry them (services/realtime/sync_message.py).
Pure functions over bytes: no rc1, no I/O. Every read is bounded by the bytes given: a length,
count or LEB128 integer that reaches past them, or a compressed column that inflates past
``MAX_INFLATED_BYTES``, raises the reader's error (``InvalidChange`` unless told otherwise)
saying where, before anything is allocated for it.

Layouts as the Automerge binary format specifies them (https://automerge.org/automerge-binary-format-spec/).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple, TypeVar

_T = TypeVar("_T")

MAGIC = b"\x85\x6f\x4a\x83"
DOCUMENT_CHUNK, CHANGE_CHUNK, COMPRESSED_CHANGE_CHUNK = 0, 1, 2
COLUMN_DEFLATE_BIT = 0x08
# Change op columns as the binary format specifies them (column id << 4 | column type).
OBJ_ACTOR, OBJ_CTR, KEY_ACTOR, KEY_CTR, INSERT, ACTION = 0x01, 0x02, 0x11, 0x13, 0x34, 0x42
VALUE_META, VALUE_RAW = 0x56, 0x57
ACTION_DEL = 3
VALUE_UTF8 = 6  # value metadata: byte length << 4 | type
MAX_INFLATED_BYTES = 64 * 1024 * 1024


class InvalidChange(ValueError):
    """Bytes that are not valid Automerge changes, or changes the document rejected."""


# --- LEB128 ---------------------------------------------------------------------------


class Reader:
    """Reads the LEB128 integers and byte strings of Automerge's binary format from ``data``.

    Past the end of ``data``, or on a LEB128 integer longer than ``leb_bytes`` bytes, it raises
    ``error`` naming ``where`` (default: the byte it started at).
    """

    def __init__(
        self, data: bytes, pos: int = 0, where: str | None = None, *, error: type[ValueError] = InvalidChange, leb_bytes: int = 10
    ) -> None:
        self.data, self.pos = data, pos
        self.where = where or f"byte {pos}"
        self.error = error
        self.leb_bytes = leb_bytes  # 10 holds a u64; rc1 reads a sync message's integers as u32 (5)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.left:
            raise self.error(f"{self.where}: truncated (needed {n} bytes at offset {self.pos}, {self.left} left)")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def byte(self) -> int:
        return self.take(1)[0]

    def uleb(self) -> int:
        """An unsigned LEB128 integer."""
        value, shift = 0, 0
        for _ in range(self.leb_bytes):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value
        raise self.error(f"{self.where}: LEB128 integer too long")

    def sleb(self) -> int:
        """A signed LEB128 integer (two's complement, sign-extended from its last byte's 0x40 bit)."""
        start = self.pos
        value = self.uleb()
        bits = 7 * (self.pos - start)
        return value - (1 << bits) if value >> (bits - 1) & 1 else value


def encode_uleb(value: int) -> bytes:
    """``value`` (>= 0) as unsigned LEB128, in as few bytes as it takes."""
    if value < 0:
        raise ValueError("unsigned LEB128 holds no negative number")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_sleb(value: int) -> bytes:
    """``value`` as signed LEB128, in as few bytes as it takes."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7  # Python's >> keeps the sign
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


# --- Chunks ---------------------------------------------------------------------------


def chunks(data: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(offset, chunk type, chunk bytes, uncompressed body) for each chunk, checksummed."""
    offset = 0
    while offset < len(data):
        reader = Reader(data, offset)
        if reader.take(4) != MAGIC:
            raise InvalidChange(f"byte {offset}: not an Automerge chunk (bad magic bytes)")
        checksum = reader.take(4)
        kind = reader.take(1)[0]
        if kind not in (DOCUMENT_CHUNK, CHANGE_CHUNK, COMPRESSED_CHANGE_CHUNK):
            raise InvalidChange(f"byte {offset}: unknown chunk type {kind}")
        body = reader.take(reader.uleb())
        chunk = data[offset : reader.pos]
        if kind == COMPRESSED_CHANGE_CHUNK:
            body = inflate(body, f"byte {offset}")
        # A compressed change is checksummed (and hashed) as its uncompressed form.
        hashed_kind = CHANGE_CHUNK if kind == COMPRESSED_CHANGE_CHUNK else kind
        if chunk_hash(hashed_kind, body)[:4] != checksum:
            raise InvalidChange(f"byte {offset}: checksum mismatch (corrupted chunk)")
        yield offset, kind, chunk, body
        offset = reader.pos


def chunk_hash(kind: int, body: bytes) -> bytes:
    """SHA-256 over a chunk's type, length and (uncompressed) body: a change's hash; its first 4 bytes, the checksum."""
    return hashlib.sha256(bytes([kind]) + encode_uleb(len(body)) + body).digest()


def inflate(data: bytes, where: str) -> bytes:
    """Raw DEFLATE data inflated, at most ``MAX_INFLATED_BYTES`` of it."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw DEFLATE, no zlib header
    try:
        out = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise InvalidChange(f"{where}: bad compressed data ({exc})") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise InvalidChange(f"{where}: compressed data truncated or too large")
    return out


# --- Change bodies and columns --------------------------------------------------------


class ChangeBody(NamedTuple):
    """A change chunk's body as read: its header, and its columns as stored."""

    deps: tuple[bytes, ...]
    actor: bytes
    seq: int
    start_op: int
    actors: tuple[bytes, ...]  # actor indexes in the op columns: the author, then the others
    columns: dict[int, bytes]  # column spec (deflate bit included) -> column data as stored


def read_change_body(body: bytes, where: str) -> ChangeBody:
    """The header and columns of a change chunk's (uncompressed) body."""
    reader = Reader(body, 0, where)
    deps = tuple(reader.take(32) for _ in range(reader.uleb()))
    actor = reader.take(reader.uleb())
    seq, start_op = reader.uleb(), reader.uleb()
    reader.sleb()  # time
    try:
        reader.take(reader.uleb()).decode("utf-8")  # message
    except UnicodeDecodeError as exc:
        raise InvalidChange(f"{where}: change message is not UTF-8") from exc
    others = tuple(reader.take(reader.uleb()) for _ in range(reader.uleb()))
    specs = [(reader.uleb(), reader.uleb()) for _ in range(reader.uleb())]
    columns = {spec: reader.take(length) for spec, length in specs}
    return ChangeBody(deps, actor, seq, start_op, (actor, *others), columns)


def column(change: ChangeBody, spec: int, where: str) -> bytes:
    """The column's data, inflated; b"" (every row null, or false) when the change omits it."""
    if spec in change.columns:
        return change.columns[spec]
    data = change.columns.get(spec | COLUMN_DEFLATE_BIT)
    return b"" if data is None else inflate(data, where)


def change_ops(change: ChangeBody, where: str) -> int:
    """The rows of a change's op columns: its operations."""
    return count_rle_rows(column(change, ACTION, where), where)


def document_ops(body: bytes, where: str) -> int:
    """Rows of a saved document's op columns (at most the operations of its changes: deletions add none)."""
    reader = Reader(body, 0, where)
    for _ in range(reader.uleb()):  # actors
        reader.take(reader.uleb())
    reader.take(32 * reader.uleb())  # heads
    change_specs = [(reader.uleb(), reader.uleb()) for _ in range(reader.uleb())]
    op_specs = [(reader.uleb(), reader.uleb()) for _ in range(reader.uleb())]
    reader.take(sum(length for _spec, length in change_specs))
    columns = {spec: reader.take(length) for spec, length in op_specs}
    if ACTION in columns:
        return count_rle_rows(columns[ACTION], where)
    packed = columns.get(ACTION | COLUMN_DEFLATE_BIT)
    return 0 if packed is None else count_rle_rows(inflate(packed, where), where)


def count_rle_rows(column: bytes, where: str) -> int:
    """The rows of an RLE column, without expanding its runs."""
    return sum(run for run, _ in rle_runs(column, where))


def rle_runs(column: bytes, where: str, signed: bool = False) -> list[tuple[int, int | None]]:
    """An RLE column (of ULEB values, or SLEB when ``signed``) as (rows, value) runs.

    Automerge RLE: a positive count then one repeated value, a negative count then that
    many literal values, or 0 then a count of nulls (value None).
    """
    reader = Reader(column, 0, where)
    runs: list[tuple[int, int | None]] = []
    value = reader.sleb if signed else reader.uleb
    while reader.pos < len(column):
        run = reader.sleb()
        if run > 0:
            runs.append((run, value()))
        elif run < 0:
            runs.extend((1, value()) for _ in range(-run))
        else:
            runs.append((reader.uleb(), None))
    return runs


def boolean_runs(column: bytes, where: str) -> list[tuple[int, bool]]:
    # Automerge boolean columns alternate counts of false and true values, false first.
    reader, runs, value = Reader(column, 0, where), [], False
    while reader.pos < len(column):
        runs.append((reader.uleb(), value))
        value = not value
    return runs


def aligned_runs(rows: int, *columns: Sequence[tuple[int, _T]]) -> Iterator[tuple[int, tuple[_T | None, ...]]]:
    """Stretches of ``rows`` over which no column's value changes: (length, values).

    A column with fewer rows than ``rows`` reads as null (None) past its end.
    """
    runs = [iter(column) for column in columns]
    left = [0] * len(columns)
    values: list[_T | None] = [None] * len(columns)
    done = 0
    while done < rows:
        for i, column in enumerate(runs):
            while left[i] == 0:
                left[i], values[i] = next(column, (rows, None))
        step = min(rows - done, *left)
        yield step, tuple(values)
        left = [n - step for n in left]
        done += step
