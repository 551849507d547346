"""A norm's text as an Automerge document, in memory: no database, no HTTP.

The document is a map with a ``title`` string and a ``body`` Text object. Every function
here works on an ``automerge.core.Document`` (automerge 1.0.0rc1); the store persists
what they return.

Facts about rc1 this module relies on (checked on this machine):
- Text positions and lengths are Unicode code points ("aé😀b" has length 4), and so are
  Python ``str`` indexes: no conversion needed. A multi-character insert becomes one
  element that later positions cannot enter, so text goes in one code point per insert
  (JS ``@automerge/automerge`` 3 stores one element per code point too).
- ``tx.delete`` past the end is silently ignored, so splices are checked here first.
  Reads at unknown heads silently see an empty document: ``has_change`` tells.
- One transaction is one change, however many ops; a transaction without ops (or one left
  by an exception) makes no change.
- ``fork()`` and ``load()`` give the copy a random actor: set it before editing.
- ``Change.bytes`` is the chunk as Automerge sends it (deflated when large, chunk type 2);
  ``Change.raw_bytes`` is always uncompressed. The change hash is SHA-256 over the
  uncompressed chunk's type byte, length and body; its first 4 bytes are the checksum,
  also in a compressed chunk's header.
- Errors raise ``Exception``; a Rust panic raises ``pyo3_runtime.PanicException`` (a
  ``BaseException``) and poisons the document it happened in: it cannot be used again.
"""

from __future__ import annotations

import graphlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import automerge.core as am
import base58

from norms import automerge_binary as binary
from norms.automerge_binary import InvalidChange as InvalidChange  # re-exported: callers catch it here

TITLE = "title"
BODY = "body"
URL_PREFIX = "automerge:"

_T = TypeVar("_T")


class InvalidDocumentId(ValueError):
    """Not an Automerge document id or URL."""


class NotANormDocument(ValueError):
    """The document is not a map with a ``title`` string and a ``body`` Text object."""


class SpliceOutOfRange(ValueError):
    """A splice reaches outside the text it applies to."""


class TooManyOps(InvalidChange):
    """More operations than the caller allows, found before anything expanded them."""


class MissingDependencies(ValueError):
    """The document lacks changes that were named (as dependencies, heads or a version)."""

    def __init__(self, hashes: Iterable[bytes]) -> None:
        self.hashes = sorted(set(hashes))
        super().__init__("the document lacks change(s) " + ", ".join(h.hex() for h in self.hashes))


# --- Document ids and URLs ------------------------------------------------------------


def new_document_id() -> bytes:
    """A fresh 16-byte document id."""
    # automerge-repo's Repo.create() uses the bytes of a UUID v4; we do the same.
    return uuid.uuid4().bytes


def document_url(doc_id: bytes) -> str:
    """The Automerge URL of a document, as automerge-repo writes it."""
    if len(doc_id) != 16:
        raise InvalidDocumentId(f"a document id has 16 bytes, not {len(doc_id)}")
    return URL_PREFIX + base58.b58encode_check(doc_id).decode("ascii")


def parse_document_id(value: str) -> bytes:
    """The 16-byte id in an Automerge URL or a bare bs58check document id."""
    encoded = value.removeprefix(URL_PREFIX)
    if "#" in encoded:
        raise InvalidDocumentId("a document id cannot name heads (found '#')")
    try:
        doc_id = base58.b58decode_check(encoded)
    except ValueError as exc:
        raise InvalidDocumentId(f"{value!r} is not a bs58check document id") from exc
    if len(doc_id) != 16:
        raise InvalidDocumentId(f"{value!r} decodes to {len(doc_id)} bytes, not 16")
    return doc_id


# --- Creating and reading -------------------------------------------------------------


def create(title: str, text: str, actor: bytes) -> tuple[am.Document, list[bytes]]:
    """A new norm document holding ``title`` and ``text``, made by ``actor`` in one change.

    Returns the document and the encoded change that made it.
    """
    doc = am.Document(actor)
    with doc.transaction() as tx:
        tx.put(am.ROOT, TITLE, am.ScalarType.Str, title)
        body = tx.put_object(am.ROOT, BODY, am.ObjType.Text)
        _insert_text(tx, body, 0, text)
    return doc, [change.bytes for change in doc.get_changes([])]


def own_changes(doc: am.Document) -> list[Change]:
    """Every change of ``doc``, as rc1 records them: for a document made here, whose bytes need no
    checking as a peer's do (``split_changes`` would load each back: seconds for a long text)."""
    return [_from_binding(change) for change in doc.get_changes([])]


def load(data: bytes, actor: bytes | None = None) -> am.Document:
    """The document saved in ``data`` (``save()`` output, optionally followed by changes).

    Raises ``InvalidChange`` if rc1 cannot load it. Beware: changes after a saved document
    whose dependencies are missing are silently left out by rc1.
    """
    doc = _call_binding(am.Document.load, data)
    if actor is not None:
        doc.set_actor(actor)
    return doc


def read_title(doc: am.Document, heads: Sequence[bytes] | None = None) -> str:
    """The title at ``heads`` (default: now); "" if the document has none."""
    found = doc.get(am.ROOT, TITLE, _heads(heads))
    if found is None:
        return ""
    value, obj = found
    # JS Automerge 3 stores strings as Text unless told otherwise.
    if isinstance(value, am.ObjType):
        return doc.text(obj, _heads(heads)) if value == am.ObjType.Text else ""
    scalar_type, scalar = value
    return scalar if scalar_type == am.ScalarType.Str and isinstance(scalar, str) else ""


def read_text(doc: am.Document, heads: Sequence[bytes] | None = None) -> str:
    """The body text at ``heads`` (default: now); "" if the document has no body then.

    rc1 reads unknown heads as an empty document; ``has_change`` tells them apart.
    """
    body = _body_id(doc, heads)
    return "" if body is None else doc.text(body, _heads(heads))


def check_shape(doc: am.Document) -> None:
    """Raise ``NotANormDocument`` saying what is wrong unless the root holds a ``title`` string
    (or Text object, as JS Automerge 3 writes strings) and a ``body`` Text object.

    Anything else on the root is the peers' business. Two map reads: microseconds.
    """
    title = _root_value(doc, TITLE)
    if not (title == am.ObjType.Text or isinstance(title, tuple) and title[0] == am.ScalarType.Str):
        raise NotANormDocument(_wrong(TITLE, title, "a string"))
    body = _root_value(doc, BODY)
    if body != am.ObjType.Text:
        raise NotANormDocument(_wrong(BODY, body, "a Text object"))


def _root_value(doc: am.Document, key: str) -> am.Value | None:
    found = doc.get(am.ROOT, key)
    return None if found is None else found[0]


def _wrong(key: str, value: am.Value | None, expected: str) -> str:
    if value is None:
        return f"`{key}` is missing (it must be {expected})"
    return f"`{key}` is {_kind(value)}; it must be {expected}"


def _kind(value: am.Value) -> str:
    # rc1's enums compare but do not hash.
    kinds: list[tuple[am.ObjType | am.ScalarType, str]]
    kind_of: am.ObjType | am.ScalarType
    if isinstance(value, am.ObjType):
        kind_of = value
        kinds = [(am.ObjType.Map, "a map"), (am.ObjType.List, "a list"), (am.ObjType.Text, "a Text object")]
    else:
        kind_of = value[0]
        kinds = [
            (am.ScalarType.Str, "a string"),
            (am.ScalarType.Null, "null"),
            (am.ScalarType.Boolean, "a boolean"),
            (am.ScalarType.Bytes, "bytes"),
        ]
    return next((name for kind, name in kinds if kind == kind_of), "a number")


def body_id(doc: am.Document) -> bytes | None:
    """The object id of the body Text, or None if the document has none."""
    return _body_id(doc)


def text_length(doc: am.Document) -> int:
    """The body's length in code points, without reading the text."""
    body = _body_id(doc)
    return 0 if body is None else doc.length(body)


def heads_hex(doc: am.Document) -> list[str]:
    """The document's current heads as hex strings."""
    return [head.hex() for head in doc.get_heads()]


def heads_from_hex(hexes: Iterable[str]) -> list[bytes]:
    """Change hashes from their hex form; ``ValueError`` unless each is 32 bytes."""
    heads = [bytes.fromhex(h) for h in hexes]
    if any(len(head) != 32 for head in heads):
        raise ValueError("a change hash is 32 bytes (64 hex digits)")
    return heads


def has_change(doc: am.Document, change_hash: bytes) -> bool:
    """Whether the document holds the change with this hash.

    Cost grows with the number of changes made after it (near the heads: microseconds).
    """
    if change_hash in doc.get_heads():
        return True
    # rc1 has no lookup by hash: a known change that is not a head has a child in
    # get_changes([hash]); an unknown hash is ignored there and nothing lists it as a dep.
    return any(change_hash in change.deps for change in doc.get_changes([change_hash]))


# --- Editing --------------------------------------------------------------------------


class Splice(NamedTuple):
    """Delete ``delete`` code points at ``start``, then insert ``insert`` there."""

    start: int  # not `index`, which would hide tuple.index
    delete: int
    insert: str


def apply_splices(
    doc: am.Document,
    actor: bytes,
    splices: Iterable[tuple[int, int, str]],
    title: str | None = None,
    base_heads: Sequence[bytes] | None = None,
) -> list[bytes]:
    """Edit the body (and the title, if given) as ``actor``; return the changes made.

    Splices apply in order, each to the text the previous one left; indexes are code
    points. All edits of one call make one change (none if nothing changes). With
    ``base_heads``, the edits apply to the text at that version and merge into ``doc``,
    so concurrent editors who read the same version all keep their text.

    Raises ``SpliceOutOfRange`` or ``MissingDependencies`` (unknown ``base_heads``)
    before anything is changed.
    """
    edits = [Splice(*splice) for splice in splices]
    on_tip = base_heads is None or set(base_heads) == set(doc.get_heads())
    target = doc if on_tip or base_heads is None else _fork_at(doc, base_heads)
    body = _body_id(target)
    if body is None:
        raise NotANormDocument("the document has no body text")
    _check_splices(target.length(body), edits)
    retitle = title is not None and title != read_title(target)

    target.set_actor(actor)
    before = target.get_heads()
    with target.transaction() as tx:
        if retitle:
            tx.put(am.ROOT, TITLE, am.ScalarType.Str, title)
        for index, delete, insert in edits:
            for _ in range(delete):
                tx.delete(body, index)
            _insert_text(tx, body, index, insert)
    made = [change.bytes for change in target.get_changes(before)]
    if target is not doc:
        doc.merge(target)
    return made


def _check_splices(length: int, splices: Sequence[Splice]) -> None:
    for n, (index, delete, insert) in enumerate(splices):
        if not (_is_count(index) and _is_count(delete) and isinstance(insert, str)):
            raise SpliceOutOfRange(f"splice {n}: expected (index >= 0, delete >= 0, text), got ({index!r}, {delete!r}, {insert!r})")
        if index > length:
            raise SpliceOutOfRange(f"splice {n}: index {index} is past the end of the text (length {length})")
        if index + delete > length:
            raise SpliceOutOfRange(f"splice {n}: cannot delete {delete} at {index}, text has length {length}")
        length += len(insert) - delete


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _insert_text(tx: am.Transaction, body: bytes, index: int, text: str) -> None:
    # One element per code point: rc1 makes a multi-character insert one opaque element.
    for offset, char in enumerate(text):
        tx.insert(body, index + offset, am.ScalarType.Str, char)


def _fork_at(doc: am.Document, heads: Sequence[bytes]) -> am.Document:
    # fork(heads) copies the whole document (~20 ms at 10k changes): only off the tip.
    missing = [head for head in heads if not has_change(doc, head)]
    if missing:
        raise MissingDependencies(missing)
    return doc.fork(list(heads))


# --- Incoming changes -----------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One encoded Automerge change, validated."""

    hash: bytes
    actor: bytes
    seq: int
    start_op: int
    deps: tuple[bytes, ...]
    ops: int
    data: bytes  # the chunk as received: loadable, and what peers are sent

    @property
    def hash_hex(self) -> str:
        return self.hash.hex()

    @property
    def actor_hex(self) -> str:
        return self.actor.hex()


def split_changes(data: bytes, max_ops: int | None = None) -> list[Change]:
    """The changes in bytes from a peer: concatenated change chunks and/or saved documents.

    Each change is checked (framing, checksum, header, and by rc1's own parser) and
    returned once, in the order met. Raises ``InvalidChange`` saying what is wrong, and
    ``TooManyOps`` once the chunks hold more than ``max_ops`` operations: counted from their
    compressed op columns before rc1 sees them, since a kilobyte can describe a million
    operations that rc1 would take seconds and hundreds of megabytes to expand.
    """
    if not data:
        raise InvalidChange("no bytes: expected Automerge changes or a saved document")
    changes: dict[bytes, Change] = {}
    counted = 0
    for n, (offset, kind, chunk, body) in enumerate(binary.chunks(data)):
        where = f"chunk {n} (byte {offset})"
        parsed = None if kind == binary.DOCUMENT_CHUNK else binary.read_change_body(body, where)
        if max_ops is not None:
            counted += binary.document_ops(body, where) if parsed is None else binary.change_ops(parsed, where)
            if counted > max_ops:
                raise TooManyOps(f"more than {max_ops} operations (at {where})")
        if parsed is None:
            found = [_from_binding(c) for c in _call_binding(_changes_in_document, chunk)]
        else:
            found = [_parse_change(chunk, body, parsed, where)]
        for change in found:
            changes.setdefault(change.hash, change)
    return list(changes.values())


def topological(changes: Sequence[Change]) -> list[Change]:
    """Changes ordered so each comes after those of the batch it depends on (dependencies outside it are ignored).

    Raises ``InvalidChange`` if they depend on each other in a cycle.
    """
    by_hash = {change.hash: change for change in changes}
    graph = {h: [dep for dep in change.deps if dep in by_hash] for h, change in by_hash.items()}
    try:
        return [by_hash[h] for h in graphlib.TopologicalSorter(graph).static_order()]
    except graphlib.CycleError as exc:
        raise InvalidChange("the changes depend on each other in a cycle") from exc


def missing_dependencies(doc: am.Document, changes: Sequence[Change]) -> list[bytes]:
    """Hashes ``changes`` depend on that are neither in ``doc`` nor among ``changes``."""
    outside = {dep for change in changes for dep in change.deps}
    outside -= {change.hash for change in changes}
    return [dep for dep in outside if not has_change(doc, dep)]


def merge_changes(doc: am.Document, changes: Sequence[Change], *, fresh: bool = False) -> list[Change]:
    """Apply ``changes`` to ``doc`` in place; return those it did not already hold.

    Every dependency must be in ``doc`` or among ``changes``, else ``MissingDependencies``
    is raised naming them, and ``doc`` is untouched. If rc1 rejects a change,
    ``InvalidChange`` is raised and ``doc`` may be partly changed or unusable: reload it.
    ``fresh=True`` is the caller's word that ``doc`` holds none of ``changes`` and all their
    dependencies (the store checks that against the database): the checks that walk rc1's
    whole history (about a millisecond at a few thousand changes) are then skipped.

    rc1 accepts some malformed changes (a forged actor or seq, corrupted op values) that
    only show when the document is saved and loaded again.
    """
    if not fresh:
        missing = missing_dependencies(doc, changes)
        if missing:
            raise MissingDependencies(missing)
    before = doc.get_heads()
    # rc1 has no apply_changes; a sync message carrying the changes applies them in
    # place (~0.2 ms per edit at 10k changes, against ~60 ms for load(save() + changes)).
    _call_binding(doc.receive_sync_message, am.SyncState(), _sync_message(changes))
    # rc1 applies some malformed changes without complaint, then panics on reads.
    _call_binding(_read_root, doc)
    if fresh:
        # New changes that nothing else depends on become heads; each one there brings its batch's
        # ancestors with it (rc1 applies a change only after its dependencies).
        depended = {dep for change in changes for dep in change.deps}
        heads = set(doc.get_heads())
        if all(change.hash in heads for change in changes if change.hash not in depended):
            return list(changes)
    applied = {change.hash for change in doc.get_changes(before)}
    # rc1 silently drops a change it cannot apply: make that loud.
    dropped = [c for c in changes if c.hash not in applied and not has_change(doc, c.hash)]
    if dropped:
        raise InvalidChange("the document did not accept change(s) " + ", ".join(c.hash_hex for c in dropped))
    return [change for change in changes if change.hash in applied]


def save(doc: am.Document) -> bytes:
    """``doc.save()`` (~30 ms at 5,000 changes), rc1's failures as ``InvalidChange``.

    Not checked to load back (that is a full load, ten times the cost): whoever loads a saved
    document checks it holds the heads it was saved at.
    """
    return _call_binding(doc.save)


def _read_root(doc: am.Document) -> None:
    doc.get(am.ROOT, TITLE)
    body = _body_id(doc)
    if body is not None:
        doc.length(body)


def _sync_message(changes: Sequence[Change]) -> am.Message:
    # Sync message v1: type 0x42, heads, need, have (all empty here), then the changes,
    # each prefixed by its length.
    parts = [b"\x42\x00\x00\x00", binary.encode_uleb(len(changes))]
    for change in changes:
        parts += [binary.encode_uleb(len(change.data)), change.data]
    return _call_binding(am.Message.decode, b"".join(parts))


def change_hash(chunk: bytes) -> bytes:
    """The hash of one change chunk, compressed or not (checksum checked); ``InvalidChange`` if it is not one."""
    found = list(binary.chunks(chunk))
    if len(found) != 1 or found[0][1] == binary.DOCUMENT_CHUNK:
        raise InvalidChange("expected one change chunk")
    return binary.chunk_hash(binary.CHANGE_CHUNK, found[0][3])


def _parse_change(chunk: bytes, body: bytes, parsed: binary.ChangeBody, where: str) -> Change:
    if not parsed.actor or parsed.seq < 1 or parsed.start_op < 1:
        raise InvalidChange(f"{where}: change header has no actor, seq or start op")
    ops = binary.change_ops(parsed, where)
    _validate_with_binding(chunk, where)
    return Change(
        hash=binary.chunk_hash(binary.CHANGE_CHUNK, body),
        actor=parsed.actor,
        seq=parsed.seq,
        start_op=parsed.start_op,
        deps=parsed.deps,
        ops=ops,
        data=chunk,
    )


def _validate_with_binding(chunk: bytes, where: str) -> None:
    # rc1 decodes every column of a lone change before it looks for its dependencies, so
    # "deps should already be in the document" means the change itself parsed cleanly.
    try:
        _call_binding(am.Document.load, chunk)
    except InvalidChange as exc:
        if "deps should already be in the document" not in str(exc):
            raise InvalidChange(f"{where}: {exc}") from exc


def _changes_in_document(chunk: bytes) -> list[am.Change]:
    return am.Document.load(chunk).get_changes([])


def _from_binding(change: am.Change) -> Change:
    return Change(
        hash=change.hash,
        actor=change.actor_id,
        seq=change.seq,
        start_op=change.start_op,
        deps=tuple(change.deps),
        ops=len(change),
        data=change.bytes,
    )


def _call_binding(function: Callable[..., _T], *args: object) -> _T:
    """Call rc1, turning its errors and Rust panics into ``InvalidChange``."""
    try:
        return function(*args)
    except Exception as exc:
        raise InvalidChange(str(exc)) from exc
    except BaseException as exc:
        # pyo3's PanicException is a BaseException from a module that cannot be imported.
        if type(exc).__module__ != "pyo3_runtime":
            raise
        raise InvalidChange(f"automerge panicked: {exc}") from exc


# --- History and authorship -----------------------------------------------------------


class AuthorSpan(NamedTuple):
    """Body text ``[start, end)`` (code points) whose characters ``actor`` inserted."""

    start: int
    end: int
    actor: str  # hex


class ChangeStats(NamedTuple):
    """Body characters a change inserted and deleted."""

    inserted: int
    deleted: int


def text_after(doc: am.Document, change_hash: bytes) -> str:
    """The body text right after the change ``change_hash`` (and what it depended on)."""
    if not has_change(doc, change_hash):
        raise MissingDependencies([change_hash])
    return read_text(doc, [change_hash])


def authorship(doc: am.Document, heads: Sequence[bytes] | None = None) -> list[AuthorSpan]:
    """Who inserted each character of the body at ``heads``, as runs covering the text."""
    body = _body_id(doc, heads)
    if body is None:
        return []
    spans: list[AuthorSpan] = []
    start = 0
    for value, element in doc.values(body, _heads(heads)):
        end = start + _element_width(value)
        actor = _element_actor(element).hex()
        if spans and spans[-1].actor == actor:
            spans[-1] = spans[-1]._replace(end=end)
        else:
            spans.append(AuthorSpan(start, end, actor))
        start = end
    return spans


def count_text_ops(change: Change, body: bytes | None = None) -> ChangeStats:
    """Body characters ``change`` inserted and deleted, net of those it inserted and deleted
    itself, read from its op columns (tens of microseconds for an edit of a few characters).

    ``body`` is the body Text's object id in the change's document (what
    ``doc.get(ROOT, BODY)[1]`` returns); only ops on it count. Without it, ops on any object
    but the root count: the same for documents made here, whose title is a string put on
    the root, but a JS-made title is Text, and typing in it would count too.
    Characters are elements: one code point each, as ``apply_splices`` and JS make them.
    Raises ``InvalidChange`` if the bytes are not a change chunk.
    """
    where = f"change {change.hash_hex}"
    chunks = list(binary.chunks(change.data))
    if len(chunks) != 1 or chunks[0][1] == binary.DOCUMENT_CHUNK:
        raise InvalidChange(f"{where}: expected one change chunk")
    parsed = binary.read_change_body(chunks[0][3], where)
    target = _object_in_change(parsed, body, where) if body is not None else None
    if body is not None and target is None:
        return ChangeStats(0, 0)  # the change names no op on the body's actor

    action = binary.rle_runs(binary.column(parsed, binary.ACTION, where), where)
    rows = sum(run for run, _ in action)
    inserted = deleted = undone = 0
    key_ctr = 0  # key counters are delta-encoded: the running sum is the counter
    for length, (insert, act, obj_actor, obj_ctr, key_actor, key_delta) in binary.aligned_runs(
        rows,
        binary.boolean_runs(binary.column(parsed, binary.INSERT, where), where),
        action,
        binary.rle_runs(binary.column(parsed, binary.OBJ_ACTOR, where), where),
        binary.rle_runs(binary.column(parsed, binary.OBJ_CTR, where), where),
        binary.rle_runs(binary.column(parsed, binary.KEY_ACTOR, where), where),
        binary.rle_runs(binary.column(parsed, binary.KEY_CTR, where), where, signed=True),
    ):
        start = key_ctr
        if key_delta is not None:
            key_ctr += length * key_delta
        on_root = obj_actor is None or not obj_ctr
        if on_root if target is None else (obj_actor, obj_ctr) != target:
            continue
        if insert:
            inserted += length
        elif act == binary.ACTION_DEL:
            deleted += length
            if key_actor == 0 and key_delta is not None:
                # The author's counters from start_op on are this change's own ops.
                undone += _count_at_least(start, key_delta, length, parsed.start_op)
    if undone > inserted:
        raise InvalidChange(f"{where}: deletes more of its own elements than it inserted")
    return ChangeStats(inserted=inserted - undone, deleted=deleted - undone)


def string_values(change: Change) -> str:
    """Every string the change's operations hold, joined in op order: the characters it inserts
    into Text, the strings it puts (a title). Read from its value columns (one regex-fast pass,
    however many operations). Raises ``InvalidChange`` if the bytes are not a change chunk.
    """
    where = f"change {change.hash_hex}"
    chunks = list(binary.chunks(change.data))
    if len(chunks) != 1 or chunks[0][1] == binary.DOCUMENT_CHUNK:
        raise InvalidChange(f"{where}: expected one change chunk")
    parsed = binary.read_change_body(chunks[0][3], where)
    raw = binary.column(parsed, binary.VALUE_RAW, where)
    strings, pos = [], 0
    for run, meta in binary.rle_runs(binary.column(parsed, binary.VALUE_META, where), where):
        if meta is None:
            continue  # null values take no bytes
        length = run * (meta >> 4)
        if meta & 0x0F == binary.VALUE_UTF8:
            strings.append(raw[pos : pos + length])
        pos += length
    try:
        return b"".join(strings).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidChange(f"{where}: a string value is not UTF-8") from exc


def _object_in_change(change: binary.ChangeBody, obj: bytes, where: str) -> tuple[int, int] | None:
    """(actor index, counter) of the object id ``obj`` in this change's op columns."""
    # An object id is the op id that made it: tag, actor length and bytes, index, counter.
    reader = binary.Reader(obj, 1, where)
    actor = reader.take(reader.uleb())
    reader.uleb()
    counter = reader.uleb()
    if actor not in change.actors:
        return None
    return change.actors.index(actor), counter


def _count_at_least(start: int, step: int, length: int, floor: int) -> int:
    """How many of start + step, start + 2*step, ..., start + length*step are >= floor."""
    if step == 0:
        return length if start >= floor else 0
    if step > 0:
        first = max(1, -((start - floor) // step))  # smallest k with start + k*step >= floor
        return max(0, length - first + 1)
    return max(0, min(length, (start - floor) // -step))


def _element_width(value: am.Value) -> int:
    # Characters are one code point each; a block marker (JS splitBlock) is a map, which
    # text() renders as one U+FFFC.
    if isinstance(value, tuple) and isinstance(value[1], str):
        return len(value[1])
    return 1


def _element_actor(element: bytes) -> bytes:
    # An element id is the op id that inserted it: tag 0x10, then the actor's length
    # (LEB128) and bytes, then the actor's index and the op counter (both LEB128).
    reader = binary.Reader(element, 1)
    return reader.take(reader.uleb())


# --- Shared ---------------------------------------------------------------------------


def _body_id(doc: am.Document, heads: Sequence[bytes] | None = None) -> bytes | None:
    found = doc.get(am.ROOT, BODY, _heads(heads))
    if found is None or found[0] != am.ObjType.Text:
        return None
    return found[1]


def _heads(heads: Sequence[bytes] | None) -> list[bytes] | None:
    return None if heads is None else list(heads)
