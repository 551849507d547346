"""The backup archive: a zip holding `manifest.json` and one JSON Lines file per table.

Each table file has one JSON object per row, keyed by column name; a cell's encoding follows its
column's kind (recorded in the manifest): bytes as base64, timestamps as ISO 8601 with offset,
dates as ISO 8601, UUIDs in their canonical form, JSON columns as the JSON value itself.

Reading trusts nothing in the file: member names, sizes, counts, checksums and every cell are
checked, and no read is larger than the limits given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import stat
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import JSON, Boolean, Column, Date, Integer, LargeBinary, String, Table, Uuid

from services.kit.db import UTCDateTime

FORMAT = "cogov-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 4 * 2**20
MAX_MEMBER_BYTES = 64 * 2**30
MAX_ROW_BYTES = 512 * 2**20
CHUNK = 2**20

_T = TypeVar("_T")

Kind = Literal["int", "str", "bool", "bytes", "uuid", "datetime", "date", "json"]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class ArchiveRejected(Exception):
    """The file is not a sound CoGov backup (malformed, truncated, tampered with, or of another schema)."""


# Order matters: UTCDateTime is a TypeDecorator, Enum and Text are Strings, BigInteger is an Integer.
_KINDS: tuple[tuple[type, Kind], ...] = (
    (UTCDateTime, "datetime"),
    (LargeBinary, "bytes"),
    (Uuid, "uuid"),
    (JSON, "json"),
    (Boolean, "bool"),
    (Date, "date"),
    (Integer, "int"),
    (String, "str"),
)


def column_kind(column: Column[object]) -> Kind:
    """How a column's values are written; an unknown column type stops the export rather than guess."""
    kind = column.type
    for sql_type, name in _KINDS:
        if isinstance(kind, sql_type):
            return name
    raise TypeError(f"{column.table.name}.{column.name}: no backup encoding for {kind!r}")


# --- Manifest -------------------------------------------------------------------------------


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    kind: Kind


class TableFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: Name
    file: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}\.jsonl$")]
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    columns: list[ColumnSpec] = Field(max_length=1000)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["cogov-backup"]
    format_version: Literal[1]
    schema_revision: Annotated[str, Field(max_length=64)]
    created_at: datetime
    source: Annotated[str, Field(max_length=40)]
    tables: list[TableFile] = Field(max_length=1000)


def columns_of(table: Table) -> list[ColumnSpec]:
    return [ColumnSpec(name=column.name, kind=column_kind(column)) for column in table.columns]


# --- Cells ------------------------------------------------------------------------------------


def encode_cell(kind: Kind, value: object) -> object:
    if value is None:
        return None
    if kind == "bytes":
        if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(value).decode("ascii")
    elif kind == "uuid":
        return str(value)
    elif kind in ("datetime", "date"):
        if isinstance(value, date):  # a datetime is a date
            return value.isoformat()
    else:
        return value
    raise TypeError(f"a {kind} column holds a {type(value).__name__}")


def _expect(value: object, kind: type[_T]) -> _T:
    # bool is an int in Python; a JSON true must not pass for a number, nor 1 for a boolean.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def decode_cell(kind: Kind, value: object) -> object:
    """The Python value for a cell, or ValueError when the cell does not hold its column's kind."""
    if value is None or kind == "json":
        return value
    if kind == "int":
        number = _expect(value, int)
        if not -(2**63) <= number < 2**63:
            raise ValueError("integer out of the 64-bit range")
        return number
    if kind == "bool":
        return _expect(value, bool)
    value = _expect(value, str)
    if kind == "str":
        if "\x00" in value:
            raise ValueError("NUL character in text")
        return value
    if kind == "bytes":
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"bad base64: {exc}") from None
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "date":
        return date.fromisoformat(value)
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("timestamp without a UTC offset")
    return at


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_row(line: bytes) -> object:
    return json.loads(line, parse_constant=_reject_constant)


# --- Writing ----------------------------------------------------------------------------------


class ArchiveWriter:
    """Writes table files one after another, streaming, then the manifest; nothing is held in memory."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "x", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True)
        self.tables: list[TableFile] = []

    def table(self, table: Table) -> TableSink:
        return TableSink(self, table)

    def finish(self, schema_revision: str, created_at: datetime, source: str) -> Manifest:
        manifest = Manifest(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            schema_revision=schema_revision,
            created_at=created_at,
            source=source,
            tables=self.tables,
        )
        self._zip.writestr(MANIFEST, manifest.model_dump_json(indent=2))
        self._zip.close()
        return manifest

    def abort(self) -> None:
        self._zip.close()


class TableSink:
    def __init__(self, writer: ArchiveWriter, table: Table) -> None:
        self._writer = writer
        self._columns = columns_of(table)
        self._file = TableFile(table=table.name, file=f"{table.name}.jsonl", rows=0, bytes=0, sha256="0" * 64, columns=self._columns)
        self._hash = hashlib.sha256()

    def __enter__(self) -> TableSink:
        self._member = self._writer._zip.open(self._file.file, "w", force_zip64=True)
        return self

    def write(self, row: Sequence[object]) -> None:
        cells = {spec.name: encode_cell(spec.kind, value) for spec, value in zip(self._columns, row, strict=True)}
        line = json.dumps(cells, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode() + b"\n"
        self._member.write(line)
        self._hash.update(line)
        self._file.rows += 1
        self._file.bytes += len(line)

    def __exit__(self, *exc_info: object) -> None:
        self._member.close()
        self._file.sha256 = self._hash.hexdigest()
        self._writer.tables.append(self._file)


# --- Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    member_bytes: int = MAX_MEMBER_BYTES
    row_bytes: int = MAX_ROW_BYTES


_SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}\.jsonl$|^manifest\.json$")


class ArchiveReader:
    """An opened archive whose layout and manifest were checked; rows are read on demand."""

    def __init__(self, path: Path, limits: Limits = Limits()) -> None:
        self.limits = limits
        if not path.is_file():
            raise ArchiveRejected(f"{path}: not a file")
        try:
            self._zip = zipfile.ZipFile(path, "r")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise ArchiveRejected(f"{path}: not a readable zip archive (truncated or not a CoGov backup): {exc}") from None
        try:
            self.members = self._check_members()
            self.manifest = self._read_manifest()
            self._check_files()
        except BaseException:
            self._zip.close()
            raise

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_members(self) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            name = info.filename
            if not _SAFE_NAME.match(name):
                raise ArchiveRejected(f"unexpected member {name!r}: a backup holds only manifest.json and <table>.jsonl files")
            if name in members:
                raise ArchiveRejected(f"member {name!r} appears twice")
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                raise ArchiveRejected(f"member {name!r} is not a regular file")
            if info.flag_bits & 0x1:
                raise ArchiveRejected(f"member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ArchiveRejected(f"member {name!r} uses an unsupported compression method")
            limit = MAX_MANIFEST_BYTES if name == MANIFEST else self.limits.member_bytes
            if info.file_size > limit:
                raise ArchiveRejected(f"member {name!r} is {info.file_size} bytes uncompressed, over the limit of {limit}")
            members[name] = info
        if MANIFEST not in members:
            raise ArchiveRejected("no manifest.json: not a CoGov backup")
        return members

    def _read_manifest(self) -> Manifest:
        try:
            raw = self._read_all(MANIFEST)
            return Manifest.model_validate_json(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()[:5])
            raise ArchiveRejected(f"manifest.json is not a CoGov backup manifest: {problems}") from None

    def _check_files(self) -> None:
        listed = {entry.file for entry in self.manifest.tables}
        if len(listed) != len(self.manifest.tables) or len({entry.table for entry in self.manifest.tables}) != len(listed):
            raise ArchiveRejected("the manifest lists a table or file twice")
        extra = set(self.members) - listed - {MANIFEST}
        if extra:
            raise ArchiveRejected(f"members not in the manifest: {', '.join(sorted(extra))}")
        for entry in self.manifest.tables:
            info = self.members.get(entry.file)
            if info is None:
                raise ArchiveRejected(f"{entry.file} is listed in the manifest but missing from the archive")
            if info.file_size != entry.bytes:
                raise ArchiveRejected(f"{entry.file} holds {info.file_size} bytes; the manifest says {entry.bytes}")

    def _read_all(self, name: str) -> bytes:
        with self._open(name) as member:
            return member.read()

    def _open(self, name: str) -> IO[bytes]:
        try:
            return self._zip.open(self.members[name])
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError) as exc:
            raise ArchiveRejected(f"{name}: cannot be read: {exc}") from None

    def verify(self, entry: TableFile) -> None:
        """Check a table file's size, row count and SHA-256 against the manifest, reading it in bounded chunks."""
        digest, size, rows = hashlib.sha256(), 0, 0
        try:
            with self._open(entry.file) as member:
                while chunk := member.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    rows += chunk.count(b"\n")
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ArchiveRejected(f"{entry.file} is damaged: {exc}") from None
        if size != entry.bytes or digest.hexdigest() != entry.sha256:
            raise ArchiveRejected(f"{entry.file}: checksum mismatch (the file was altered or damaged)")
        if rows != entry.rows:
            raise ArchiveRejected(f"{entry.file} holds {rows} rows; the manifest says {entry.rows}")

    def rows(self, entry: TableFile) -> Iterator[tuple[int, dict[str, object], int]]:
        """(line number, row, bytes of the line) for each line of a table file, each cell decoded for its column."""
        kinds = {spec.name: spec.kind for spec in entry.columns}
        with self._open(entry.file) as member:
            number = 0
            while line := member.readline(self.limits.row_bytes + 1):
                number += 1
                where = f"{entry.file} line {number}"
                if not line.endswith(b"\n"):
                    raise ArchiveRejected(f"{where}: row over {self.limits.row_bytes} bytes, or the file is cut short")
                try:
                    cells = parse_row(line)
                except (ValueError, RecursionError) as exc:
                    raise ArchiveRejected(f"{where}: not JSON ({exc})") from None
                if not isinstance(cells, dict) or cells.keys() != kinds.keys():
                    raise ArchiveRejected(f"{where}: a row must be an object with exactly the columns {sorted(kinds)}")
                row: dict[str, object] = {}
                for name, value in cells.items():
                    try:
                        row[name] = decode_cell(kinds[name], value)
                    except (ValueError, TypeError) as exc:
                        raise ArchiveRejected(f"{where}: column {name} ({kinds[name]}): {exc}") from None
                yield number, row, len(line)
