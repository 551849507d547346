"""Export the whole database to one archive, and restore an archive into an empty, migrated database.

Every table of the app's metadata is written, so a table added later is backed up without a
change here. Export reads in one snapshot (REPEATABLE READ on PostgreSQL, one read
transaction on SQLite); import writes in one transaction, in foreign-key order, and writes
nothing at all when any check fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, Enum, Integer, String, Table, bindparam, select, text, type_coerce, update
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

import migrations
from services.backup.archive import ArchiveReader, ArchiveRejected, ArchiveWriter, Limits, Manifest, TableFile, columns_of
from services.kit.db import create_engine, utcnow
from services.search import index as search_index
from services.tables import metadata

# Export reads this many rows per round trip; rows of tables holding Automerge bytes (changes,
# snapshots) can be large, so fewer of those.
BATCH_ROWS = 500
BATCH_ROWS_WITH_BYTES = 50
# Import sends rows in batches of at most this many rows and (roughly) bytes of archive text.
INSERT_ROWS = 1000
INSERT_BYTES = 4 * 2**20


class DatabaseNotReady(Exception):
    """The database cannot take part: not migrated to the code's schema, or (for import) not empty."""


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    rows: int


def head_revision() -> str:
    [head] = migrations.head_revisions()
    return head


def _tables() -> list[Table]:
    return list(metadata.sorted_tables)


async def _revision(connection: AsyncConnection) -> str | None:
    try:
        return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    except DBAPIError:
        return None


def _order(table: Table, dialect: str) -> list:
    """Primary-key order, with text compared byte by byte on both backends so archives are reproducible."""
    keys = list(table.primary_key.columns) or list(table.columns)
    return [column.collate("C") if dialect == "postgresql" and isinstance(column.type, String) else column for column in keys]


def _selected(table: Table) -> list:
    # Enum columns are read as the stored string, so an archive carries exactly what the database holds.
    return [type_coerce(column, String()) if isinstance(column.type, Enum) else column for column in table.columns]


def _has_bytes(table: Table) -> bool:
    return any(spec.kind == "bytes" for spec in columns_of(table))


async def export_database(database_url: str, path: Path) -> Manifest:
    """Write every table to a new archive at `path` from one consistent snapshot of the database."""
    if path.exists():
        raise FileExistsError(f"{path} exists; choose a new file name")
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    engine = create_engine(database_url)
    dialect = engine.dialect.name
    try:
        async with engine.connect() as connection:
            if dialect == "postgresql":
                connection = await connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            async with connection.begin():
                revision = await _revision(connection)
                if revision != head_revision():
                    raise DatabaseNotReady(
                        f"the database is at schema revision {revision}, the code at {head_revision()}: run `cogov db upgrade` first"
                    )
                writer = ArchiveWriter(partial)
                try:
                    for table in _tables():
                        with writer.table(table) as sink:
                            result = await connection.stream(select(*_selected(table)).order_by(*_order(table, dialect)))
                            async for rows in result.partitions(BATCH_ROWS_WITH_BYTES if _has_bytes(table) else BATCH_ROWS):
                                for row in rows:
                                    sink.write(row)
                    manifest = writer.finish(revision, utcnow(), dialect)
                except BaseException:
                    writer.abort()
                    partial.unlink(missing_ok=True)
                    raise
    finally:
        await engine.dispose()
    with open(partial, "rb") as written:
        os.fsync(written.fileno())
    os.rename(partial, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)
    return manifest


def check_archive(reader: ArchiveReader) -> list[tuple[Table, TableFile]]:
    """Match the archive against the code's schema and verify every table file's checksum; the pairs to load, in order."""
    manifest = reader.manifest
    if manifest.schema_revision != head_revision():
        raise ArchiveRejected(
            f"the archive is of schema revision {manifest.schema_revision}, this CoGov is at {head_revision()}: "
            "restore it with the CoGov release that wrote it"
        )
    files = {entry.table: entry for entry in manifest.tables}
    tables = _tables()
    expected = {table.name for table in tables}
    if files.keys() != expected:
        missing, unknown = sorted(expected - files.keys()), sorted(files.keys() - expected)
        raise ArchiveRejected(f"the archive's tables do not match the schema (missing: {missing or 'none'}; unknown: {unknown or 'none'})")
    pairs = []
    for table in tables:
        entry = files[table.name]
        if entry.columns != columns_of(table):
            raise ArchiveRejected(f"{entry.file}: its columns do not match table {table.name} of this schema")
        reader.verify(entry)
        pairs.append((table, entry))
    return pairs


async def _lock_and_check_empty(connection: AsyncConnection, tables: list[Table]) -> None:
    try:
        if connection.dialect.name == "sqlite":
            # Take the write lock first, so no writer slips in between the emptiness check and the load.
            await connection.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))
        revision = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    except DBAPIError:
        revision = None
    if revision != head_revision():
        raise DatabaseNotReady(
            f"the database is at schema revision {revision or '(none)'}, not {head_revision()}: run `cogov db upgrade` on it first"
        )
    if connection.dialect.name == "postgresql":
        names = ", ".join(connection.dialect.identifier_preparer.quote(table.name) for table in tables)
        await connection.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
    holding = [table.name for table in tables if (await connection.execute(select(1).select_from(table).limit(1))).first()]
    if holding:
        raise DatabaseNotReady(f"the database is not empty (rows in {', '.join(holding)}): restore only into a new, migrated database")


def _insert_statement(table: Table):
    # A JSON column's None is SQL NULL, as it was when read (the default would store the JSON text 'null').
    return table.insert().values(
        {
            column.name: bindparam(f"p_{column.name}", type_=JSON(none_as_null=True) if isinstance(column.type, JSON) else column.type)
            for column in table.columns
        }
    )


def _lengths(table: Table) -> dict[str, int]:
    return {column.name: column.type.length for column in table.columns if isinstance(column.type, String) and column.type.length}


async def _load_table(connection: AsyncConnection, reader: ArchiveReader, table: Table, entry: TableFile) -> int:
    statement = _insert_statement(table)
    lengths = _lengths(table)
    # A row may point at another row of its own table (a superseded adoption): such links are set once all rows exist.
    self_refs = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
    keys = list(table.primary_key.columns)
    links: list[dict[str, object]] = []
    batch: list[dict[str, object]] = []
    batch_bytes = 0
    first = 1

    async def flush() -> None:
        nonlocal batch_bytes
        batch_bytes = 0
        try:
            await connection.execute(statement, batch)
        except (DBAPIError, StatementError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
            raise ArchiveRejected(f"{entry.file} lines {first}-{first + len(batch) - 1}: refused by the database: {reason}") from None
        batch.clear()

    for number, row, line_bytes in reader.rows(entry):
        for name, limit in lengths.items():
            value = row[name]
            if isinstance(value, str) and len(value) > limit:  # a column with a length holds text
                raise ArchiveRejected(f"{entry.file} line {number}: column {name} holds more than {limit} characters")
        for column in self_refs:
            if row[column.name] is not None:
                links.append({**{f"k_{key.name}": row[key.name] for key in keys}, f"p_{column.name}": row[column.name]})
                row[column.name] = None
        if not batch:
            first = number
        batch.append({f"p_{name}": value for name, value in row.items()})
        batch_bytes += line_bytes
        if len(batch) >= INSERT_ROWS or batch_bytes >= INSERT_BYTES:
            await flush()
    if batch:
        await flush()
    for column in self_refs:
        pending = [link for link in links if f"p_{column.name}" in link]
        if pending:
            statement = (
                update(table)
                .where(*[key == bindparam(f"k_{key.name}") for key in keys])
                .values({column.name: bindparam(f"p_{column.name}")})
            )
            try:
                await connection.execute(statement, pending)
            except (DBAPIError, StatementError) as exc:
                raise ArchiveRejected(f"{entry.file}: a {column.name} link was refused by the database: {exc.orig or exc}") from None
    return entry.rows


async def _reset_sequences(connection: AsyncConnection, tables: list[Table]) -> None:
    """PostgreSQL hands out ids from sequences: move each past the largest id restored."""
    if connection.dialect.name != "postgresql":
        return
    quote = connection.dialect.identifier_preparer.quote
    owned = {(table.name, column.name) for table in tables for column in table.columns if isinstance(column.type, Integer)}
    sequences = await connection.execute(
        text(
            # Each name qualified by its schema: PostgreSQL may call the function on rows of other
            # schemas before the schema condition drops them, and an unqualified name of, say,
            # information_schema's own views is not found on the search path.
            "SELECT table_name, column_name, sequence FROM ("
            "SELECT table_schema, table_name, column_name, "
            "pg_get_serial_sequence(quote_ident(table_schema) || '.' || quote_ident(table_name), column_name) AS sequence "
            "FROM information_schema.columns) AS serial "
            "WHERE table_schema = current_schema() AND sequence IS NOT NULL"
        )
    )
    for table, column, sequence in sequences.all():
        if (table, column) in owned:
            await connection.execute(
                text(f"SELECT setval(:sequence, COALESCE(MAX({quote(column)}), 1), MAX({quote(column)}) IS NOT NULL) FROM {quote(table)}"),
                {"sequence": sequence},
            )


async def import_database(database_url: str, path: Path, limits: Limits = Limits()) -> Restored:
    """Restore the archive at `path` into the empty, migrated database; all of it, or nothing on any error."""
    with ArchiveReader(path, limits) as reader:
        pairs = check_archive(reader)
        tables = [table for table, _ in pairs]
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                async with connection.begin():
                    await _lock_and_check_empty(connection, tables)
                    rows = 0
                    for table, entry in pairs:
                        rows += await _load_table(connection, reader, table, entry)
                    await _reset_sequences(connection, tables)
                    # The search index's full-text side is each database's own, outside the archive: made again here.
                    await search_index.rebuild_vectors(AsyncSession(bind=connection))
        finally:
            await engine.dispose()
        return Restored(reader.manifest, rows)
