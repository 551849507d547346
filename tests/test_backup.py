"""`cogov export` and `cogov import`: a realistic database round-trips through an archive into the other backend,
and every damaged or hostile archive is refused with the target database left empty."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import stat
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

import migrations
from services.accounts import service as accounts
from services.accounts.models import Participant, Role
from services.accounts.security import PasswordHashing
from services.api.app import create_app
from services.backup import archive as backup_archive
from services.backup.archive import ArchiveRejected, Limits
from services.backup.service import DatabaseNotReady, export_database, import_database
from services.kit.db import create_engine, create_sessionmaker, transaction
from services.realtime.client import SyncClient
from services.settings import Settings
from services.tables import metadata
from tests.cli import run_cogov
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.app import TEST_SECRET, served
from tests.fixtures.clearinghouse import adopt

# Snapshots every few changes, so the archive carries them; the subscriber listens on loopback.
SETTINGS = {"snapshot_every": 4, "allow_private_callbacks": True, "callback_timeout_seconds": 2}


async def row_count(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return sum(
                [(await connection.execute(select(func.count()).select_from(table))).scalar_one() for table in metadata.sorted_tables]
            )
    finally:
        await engine.dispose()


def same_tables(first: Path, second: Path) -> None:
    """Both archives hold the same rows, byte for byte, in every table."""
    with zipfile.ZipFile(first) as one, zipfile.ZipFile(second) as other:
        manifest = json.loads(one.read("manifest.json"))
        for entry in manifest["tables"]:
            assert one.read(entry["file"]) == other.read(entry["file"]), entry["table"]


async def edit(client, norm_id: str, person: dict, index: int, insert: str, delete: int = 0) -> dict:
    response = await client.post(
        f"/api/v1/norms/{norm_id}/edits",
        json={"splices": [{"index": index, "delete": delete, "insert": insert}]},
        headers=person["headers"],
    )
    assert response.status_code == 200, response.text
    return response.json()


async def build(client, make_council, clock, worker, subscriber, sign_up) -> dict:
    """Networks with members, a norm several members edited, versions, an adopted ballot, a published and delivered
    clearing-house entry, a WebSub subscription, a consultation with comments. What a restore must reproduce."""
    council = await make_council()
    norm_id = council["norm"]["id"]
    amina, bruno, chen, dana = council["members"]
    other = await client.post(
        "/api/v1/networks",
        json={
            "name": "Open Data Standards",
            "issue": "Public data is published in incompatible ways.",
            "aims": "Shared formats.",
            "intended_outcome": "A data norm.",
        },
        headers=bruno["headers"],
    )
    assert other.status_code == 201, other.text
    assert (await client.post(f"/api/v1/networks/{other.json()['slug']}/join", headers=chen["headers"])).status_code == 201

    text = (await client.get(f"/api/v1/norms/{norm_id}")).json()["text"]
    await edit(client, norm_id, bruno, 0, "Large ")
    await edit(client, norm_id, chen, len("Large " + text), " Yearly.")
    await edit(client, norm_id, dana, len("Large "), "online ")
    await edit(client, norm_id, amina, 0, "Every ")
    await edit(client, norm_id, bruno, 0, "", delete=len("Every "))
    tagged = await client.post(
        f"/api/v1/norms/{norm_id}/versions", json={"label": "After review", "note": "Four hands"}, headers=chen["headers"]
    )
    assert tagged.status_code == 201, tagged.text

    callback = subscriber.url("/hooks/cogov")
    subscribed = await client.post(
        "/websub",
        data={
            "hub.mode": "subscribe",
            "hub.topic": "http://127.0.0.1:8000/feeds/norms.atom",
            "hub.callback": callback,
            "hub.secret": "a shared secret of the hub",
        },
    )
    assert subscribed.status_code == 202, subscribed.text
    assert await worker.verify_pending() == 1
    await adopt(client, council, clock, version=2)
    await worker.run_once()  # publishes the adoption, then delivers it
    assert len(subscriber.deliveries) == 1
    # A later version adopted in its turn supersedes the first adoption: a row pointing at a row of its own table.
    await edit(client, norm_id, dana, 0, "All ")
    assert (await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Final"}, headers=amina["headers"])).status_code == 201
    ballot = await adopt(client, council, clock, version=3)
    await worker.run_once()
    assert len(subscriber.deliveries) == 2

    opened = await client.post(
        f"/api/v1/norms/{norm_id}/consultations",
        json={"version": 2, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Is this clear enough?"},
        headers=amina["headers"],
    )
    assert opened.status_code == 201, opened.text
    official = await sign_up("Gov Official")
    affiliated = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "government", "country": "FR", "organisation": "Ministère"},
        headers=official["headers"],
    )
    assert affiliated.status_code == 200, affiliated.text
    comment = await client.post(
        f"/api/v1/consultations/{opened.json()['id']}/comments", json={"body": "Define « online »."}, headers=official["headers"]
    )
    assert comment.status_code == 201, comment.text
    reply = await client.post(f"/api/v1/comments/{comment.json()['id']}/replies", json={"body": "Done in v3."}, headers=dana["headers"])
    assert reply.status_code == 201, reply.text
    return {"council": council, "norm_id": norm_id, "ballot_id": ballot["id"], "consultation_id": opened.json()["id"], "official": official}


async def observed(client, made: dict) -> dict:
    """Everything a reader sees of the built database, through the API."""
    norm_id = made["norm_id"]
    paths = [
        f"/api/v1/norms/{norm_id}",
        f"/api/v1/norms/{norm_id}/versions",
        f"/api/v1/norms/{norm_id}/versions/1",
        f"/api/v1/norms/{norm_id}/versions/2",
        f"/api/v1/norms/{norm_id}/versions/3",
        f"/api/v1/norms/{norm_id}/authorship",
        f"/api/v1/norms/{norm_id}/history",
        f"/api/v1/networks/{made['council']['slug']}",
        f"/api/v1/ballots/{made['ballot_id']}",
        f"/api/v1/norms/{norm_id}/adoptions",
        "/api/v1/clearinghouse/entries",
        f"/api/v1/consultations/{made['consultation_id']}/comments",
        "/api/v1/audit",
        # The search index's rows are in the archive; each database's full-text side is made again on import.
        "/api/v1/search?q=ranking&kind=version",
        "/api/v1/search?q=transparency&kind=network",
    ]
    seen = {}
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        seen[path] = response.json()
        if path.startswith("/api/v1/search"):  # the same things on each database; relevance may order them differently
            seen[path]["items"].sort(key=lambda item: item["id"])
    return seen


async def live_edit(settings: Settings, person: dict, norm_url: str, norm_id: str) -> None:
    """Serve the restored database, sign in with the old password and edit the norm live through the sync server."""
    application = create_app(settings)
    try:
        async with served(application) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            try:
                wrong = await http.post("/api/v1/auth/token", data={"username": person["email"], "password": PASSWORD + "!"})
                assert wrong.status_code == 401
                token = await http.post("/api/v1/auth/token", data={"username": person["email"], "password": PASSWORD})
                assert token.status_code == 200, token.text
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                ticket = await http.post("/api/v1/sync/tickets", headers=headers)
                assert ticket.status_code == 201, ticket.text
                client = await SyncClient.connect(f"ws://127.0.0.1:{port}/api/v1/sync", ticket=ticket.json()["ticket"])
                try:
                    handle = await client.open(norm_url)
                    before = handle.text
                    await handle.splice(len(before), 0, " Restored.")
                    await handle.wait_synced()
                finally:
                    await client.close()
                stored = (await http.get(f"/api/v1/norms/{norm_id}")).json()
                assert stored["text"] == before + " Restored."
                tagged = await http.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "After restore"}, headers=headers)
                assert tagged.status_code == 201, tagged.text
                assert tagged.json()["number"] == 4
                history = (await http.get(f"/api/v1/norms/{norm_id}/history")).json()["items"]
                assert person["name"] in {entry["participant"]["display_name"] for entry in history}
            finally:
                await application.state.sync_hub.stop()
    finally:
        await application.state.engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_realistic_database_round_trips_from_sqlite_to_postgresql_and_back(
    postgres_database, client, app, settings, make_council, clock, worker, subscriber, sign_up, sqlite_migrated, tmp_path
):
    made = await build(client, make_council, clock, worker, subscriber, sign_up)
    before = await observed(client, made)
    assert before["/api/v1/search?q=ranking&kind=version"]["items"] and before["/api/v1/search?q=transparency&kind=network"]["items"]
    archive = tmp_path / "cogov-backup.zip"

    exported = run_cogov("export", str(archive), database_url=settings.database_url, data_dir=str(settings.data_dir))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(archive) as opened:
        manifest = json.loads(opened.read("manifest.json"))
        counts = {entry["table"]: entry["rows"] for entry in manifest["tables"]}
        changes = [json.loads(line) for line in opened.read("norm_changes.jsonl").splitlines()]
        adoptions = [json.loads(line) for line in opened.read("norm_adoptions.jsonl").splitlines()]
    assert manifest["schema_revision"] == next(iter(migrations.head_revisions()))
    assert {table.name for table in metadata.sorted_tables} == counts.keys()
    for table in (
        "norm_changes",
        "norm_snapshots",
        "actor_bindings",
        "norm_versions",
        "ballots",
        "ballot_votes",
        "norm_adoptions",
        "feed_entries",
        "websub_subscriptions",
        "websub_deliveries",
        "consultation_comments",
        "consultation_replies",
        "audit_events",
    ):
        assert counts[table] > 0, table
    assert len({change["participant_id"] for change in changes}) == 4  # every member's edits, each with its author
    assert sorted(adoption["supersedes_id"] is not None for adoption in adoptions) == [False, True]

    imported = run_cogov("import", str(archive), database_url=postgres_database, data_dir=str(settings.data_dir))
    assert imported.returncode == 0, imported.stderr
    assert f"restored {sum(counts.values())} rows" in imported.stdout
    verified = run_cogov("audit", "verify", database_url=postgres_database, data_dir=str(settings.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"audit chain intact: {counts['audit_events']} events" in verified.stdout

    # Every table comes back byte for byte: PostgreSQL's export of the restored data equals SQLite's, and
    # restoring that into a new SQLite database closes the circle.
    from_postgres = tmp_path / "from-postgres.zip"
    await export_database(postgres_database, from_postgres)
    same_tables(archive, from_postgres)
    back = tmp_path / "back.db"
    shutil.copyfile(sqlite_migrated, back)
    await import_database(f"sqlite+aiosqlite:///{back}", from_postgres)
    await export_database(f"sqlite+aiosqlite:///{back}", tmp_path / "back.zip")
    same_tables(archive, tmp_path / "back.zip")

    restored_settings = settings.model_copy(update={"database_url": postgres_database})
    restored_app = create_app(restored_settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=restored_app), base_url="http://test") as restored:
            assert await observed(restored, made) == before
    finally:
        await restored_app.state.engine.dispose()

    with pytest.raises(DatabaseNotReady, match="not empty"):
        await import_database(postgres_database, archive)

    # Ids handed out after the restore follow the restored ones (PostgreSQL sequences were moved on).
    dana = made["council"]["members"][3]
    await live_edit(restored_settings, dana, made["council"]["norm"]["url"], made["norm_id"])


# --- Refusals ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(sqlite_migrated, tmp_path_factory) -> Path:
    """A sound archive of the seeded demo (30 experts, networks, norms with history), written once for these tests."""
    from services.web import demo

    folder = tmp_path_factory.mktemp("demo")
    shutil.copyfile(sqlite_migrated, folder / "demo.db")
    url = f"sqlite+aiosqlite:///{folder / 'demo.db'}"

    async def seed_and_export() -> Path:
        application = create_app(Settings(database_url=url, secret_key=TEST_SECRET, data_dir=folder / "var", _env_file=None))
        state = application.state
        try:
            await demo.seed(state.sessionmaker, state.norm_store, state.taxonomy, "demo password 123", hashing=state.password_hashing)
        finally:
            await state.sync_hub.stop()
            await state.engine.dispose()
        await export_database(url, folder / "demo.zip")
        return folder / "demo.zip"

    return asyncio.run(seed_and_export())


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def rewrite(
    source: Path,
    target: Path,
    *,
    change: dict[str, bytes] | None = None,
    consistent: bool = True,
    manifest=None,
    extra: list[zipfile.ZipInfo | tuple[zipfile.ZipInfo, bytes]] = (),
) -> Path:
    """A copy of the archive with some files changed; `consistent` updates the manifest's sizes, counts and checksums."""
    files = members(source)
    listing = json.loads(files["manifest.json"])
    for name, data in (change or {}).items():
        files[name] = data
        if consistent:
            [entry] = [entry for entry in listing["tables"] if entry["file"] == name]
            entry.update(bytes=len(data), rows=data.count(b"\n"), sha256=hashlib.sha256(data).hexdigest())
    if manifest is not None:
        manifest(listing)
    files["manifest.json"] = json.dumps(listing).encode()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as written:
        for name, data in files.items():
            written.writestr(name, data)
        for info, data in extra:
            written.writestr(info, data)
    return target


def first_row(path: Path, file: str) -> dict:
    return json.loads(members(path)[file].splitlines()[0])


def with_first_row(path: Path, file: str, **cells) -> bytes:
    lines = members(path)[file].splitlines(keepends=True)
    lines[0] = json.dumps(json.loads(lines[0]) | cells).encode() + b"\n"
    return b"".join(lines)


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def hostile_archives(archive: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    """name → (archive, what the refusal must say)."""
    whole = archive.read_bytes()
    cut = folder / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    not_zip = folder / "not-zip.zip"
    not_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    participant = first_row(archive, "participants.jsonl")
    deep_text = b'{"payload":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    cases = {
        "truncated": (cut, "not a readable zip archive"),
        "not a zip": (not_zip, "not a readable zip archive"),
        "path traversal": (
            rewrite(archive, folder / "traversal.zip", extra=[(zipfile.ZipInfo("../../etc/cron.d/evil.jsonl"), b"x")]),
            "unexpected member",
        ),
        "absolute path": (
            rewrite(archive, folder / "absolute.zip", extra=[(zipfile.ZipInfo("/tmp/evil.jsonl"), b"x")]),
            "unexpected member",
        ),
        "symlink": (rewrite(archive, folder / "symlink.zip", extra=[(symlink("evil.jsonl"), b"/etc/passwd")]), "not a regular file"),
        "unlisted member": (
            rewrite(archive, folder / "unlisted.zip", extra=[(zipfile.ZipInfo("evil.jsonl"), b"{}\n")]),
            "not in the manifest",
        ),
        "no manifest": (_without(archive, folder / "no-manifest.zip", "manifest.json"), "no manifest.json"),
        "missing table file": (_without(archive, folder / "missing.zip", "norm_changes.jsonl"), "missing from the archive"),
        "manifest not json": (_replaced(archive, folder / "manifest-garbage.zip", "manifest.json", b"{not json"), "manifest.json is not"),
        "manifest wrong types": (
            rewrite(archive, folder / "manifest-types.zip", manifest=lambda m: m["tables"][0].update(rows="many")),
            "manifest.json is not",
        ),
        "other schema revision": (
            rewrite(archive, folder / "revision.zip", manifest=lambda m: m.update(schema_revision="0123456789ab")),
            "schema revision 0123456789ab",
        ),
        "table missing from manifest": (
            rewrite(archive, folder / "fewer.zip", manifest=lambda m: m["tables"].pop(0), extra=()),
            "not in the manifest",
        ),
        "unknown table": (
            rewrite(
                archive,
                folder / "unknown-table.zip",
                manifest=lambda m: m["tables"].append(_entry(m, "norms.jsonl") | {"table": "evil", "file": "evil.jsonl"}),
                extra=[(zipfile.ZipInfo("evil.jsonl"), members(archive)["norms.jsonl"])],
            ),
            "unknown: ['evil']",
        ),
        "table listed twice": (rewrite(archive, folder / "twice.zip", manifest=lambda m: m["tables"].append(m["tables"][-1])), "twice"),
        "column of another kind": (
            rewrite(archive, folder / "kind.zip", manifest=lambda m: _entry(m, "norms.jsonl")["columns"][0].update(kind="str")),
            "columns do not match table norms",
        ),
        "checksum": (
            rewrite(
                archive,
                folder / "checksum.zip",
                change={"participants.jsonl": with_first_row(archive, "participants.jsonl", display_name="Mallory")},
                consistent=False,
            ),
            "participants.jsonl",
        ),
        "row count": (
            rewrite(
                archive, folder / "rows.zip", manifest=lambda m: _entry(m, "norms.jsonl").update(rows=_entry(m, "norms.jsonl")["rows"] + 1)
            ),
            "rows; the manifest says",
        ),
        "string for an integer": (
            rewrite(archive, folder / "int.zip", change={"norms.jsonl": with_first_row(archive, "norms.jsonl", change_count="12")}),
            "column change_count (int): expected int",
        ),
        "integer out of range": (
            rewrite(archive, folder / "huge-int.zip", change={"norms.jsonl": with_first_row(archive, "norms.jsonl", change_count=2**70)}),
            "out of the 64-bit range",
        ),
        "boolean for an integer": (
            rewrite(archive, folder / "bool.zip", change={"norms.jsonl": with_first_row(archive, "norms.jsonl", change_count=True)}),
            "column change_count (int): expected int",
        ),
        "bad base64": (
            rewrite(
                archive, folder / "base64.zip", change={"norm_changes.jsonl": with_first_row(archive, "norm_changes.jsonl", data="%%%")}
            ),
            "column data (bytes): bad base64",
        ),
        "bad uuid": (
            rewrite(
                archive, folder / "uuid.zip", change={"participants.jsonl": with_first_row(archive, "participants.jsonl", id="../../root")}
            ),
            "column id (uuid)",
        ),
        "timestamp without zone": (
            rewrite(
                archive,
                folder / "naive.zip",
                change={"participants.jsonl": with_first_row(archive, "participants.jsonl", created_at="2026-01-01T00:00:00")},
            ),
            "without a UTC offset",
        ),
        "extra column": (
            rewrite(
                archive, folder / "column.zip", change={"participants.jsonl": with_first_row(archive, "participants.jsonl", is_admin=True)}
            ),
            "exactly the columns",
        ),
        "over-long text": (
            rewrite(
                archive,
                folder / "long.zip",
                change={"participants.jsonl": with_first_row(archive, "participants.jsonl", display_name="x" * 10_000)},
            ),
            "more than 120 characters",
        ),
        "nested json bomb": (
            rewrite(
                archive, folder / "deep.zip", change={"audit_events.jsonl": deep_text + b"\n" + members(archive)["audit_events.jsonl"]}
            ),
            "audit_events.jsonl line 1",
        ),
        "cut line": (
            rewrite(archive, folder / "cutline.zip", change={"participants.jsonl": members(archive)["participants.jsonl"][:-10]}),
            "cut short",
        ),
        "duplicate row": (
            rewrite(
                archive,
                folder / "duplicate.zip",
                change={"participants.jsonl": members(archive)["participants.jsonl"] + json.dumps(participant).encode() + b"\n"},
            ),
            "refused by the database",
        ),
        "dangling reference": (
            rewrite(
                archive,
                folder / "dangling.zip",
                change={
                    "memberships.jsonl": with_first_row(archive, "memberships.jsonl", participant_id="00000000-0000-4000-8000-000000000000")
                },
            ),
            "refused by the database",
        ),
    }
    return cases


def _entry(listing: dict, file: str) -> dict:
    [entry] = [entry for entry in listing["tables"] if entry["file"] == file]
    return entry


def _without(source: Path, target: Path, name: str) -> Path:
    with zipfile.ZipFile(source) as opened, zipfile.ZipFile(target, "w") as written:
        for info in opened.infolist():
            if info.filename != name:
                written.writestr(info, opened.read(info))
    return target


def _replaced(source: Path, target: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(source) as opened, zipfile.ZipFile(target, "w") as written:
        for info in opened.infolist():
            written.writestr(info, data if info.filename == name else opened.read(info))
    return target


async def test_hostile_and_damaged_archives_are_refused_and_nothing_is_written(database_url, archive, tmp_path):
    cases = hostile_archives(archive, tmp_path)
    for name, (path, says) in cases.items():
        with pytest.raises(ArchiveRejected) as refused:
            await import_database(database_url, path)
        assert says in str(refused.value), (name, str(refused.value))
    assert await row_count(database_url) == 0
    # The sound archive they were made from restores (which it would refuse, were any row left behind).
    restored = await import_database(database_url, archive)
    assert restored.rows == await row_count(database_url) > 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_member_over_the_size_limit_is_refused_before_it_is_read(database_url, archive, tmp_path):
    zeros = b"\x00" * 2_000_000  # compresses to a few kilobytes
    bomb = rewrite(archive, tmp_path / "bomb.zip", change={"follow_ups.jsonl": zeros})
    assert bomb.stat().st_size < archive.stat().st_size + 100_000
    with pytest.raises(ArchiveRejected, match="over the limit of 1000000"):
        await import_database(database_url, bomb, Limits(member_bytes=1_000_000))
    long_row = rewrite(archive, tmp_path / "row.zip", change={"networks.jsonl": b'{"id":"' + b"a" * 5000 + b'"}\n'})
    with pytest.raises(ArchiveRejected, match="row over 1000 bytes"):
        await import_database(database_url, long_row, Limits(row_bytes=1000))
    assert await row_count(database_url) == 0


def test_the_command_refuses_with_an_exit_code_and_a_reason(archive, sqlite_migrated, tmp_path):
    target = tmp_path / "target.db"
    shutil.copyfile(sqlite_migrated, target)
    url = f"sqlite+aiosqlite:///{target}"
    traversal = rewrite(archive, tmp_path / "traversal.zip", extra=[(zipfile.ZipInfo("../evil.jsonl"), b"x")])

    refused = run_cogov("import", str(traversal), database_url=url, data_dir=str(tmp_path))
    assert refused.returncode == 1
    assert "archive refused, nothing restored" in refused.stderr and "'../evil.jsonl'" in refused.stderr
    assert asyncio.run(row_count(url)) == 0

    unmigrated = run_cogov("import", str(archive), database_url=f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}", data_dir=str(tmp_path))
    assert unmigrated.returncode == 3
    assert "run `cogov db upgrade` on it first" in unmigrated.stderr

    with pytest.raises(FileExistsError):  # an export never overwrites a file
        asyncio.run(export_database(url, archive))


def test_an_archive_is_a_zip_of_json_lines_with_typed_cells(archive):
    files = members(archive)
    manifest = json.loads(files["manifest.json"])
    assert (manifest["format"], manifest["format_version"], manifest["source"]) == ("cogov-backup", 1, "sqlite")
    for entry in manifest["tables"]:
        data = files[entry["file"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and data.count(b"\n") == entry["rows"]
    change = json.loads(files["norm_changes.jsonl"].splitlines()[0])
    kinds = {column["name"]: column["kind"] for column in _entry(manifest, "norm_changes.jsonl")["columns"]}
    assert (kinds["data"], kinds["participant_id"], kinds["received_at"]) == ("bytes", "uuid", "datetime")
    assert base64.b64decode(change["data"])[:4] == b"\x85\x6f\x4a\x83"  # an Automerge change, byte for byte
    assert change["received_at"].endswith("+00:00")


async def test_an_export_is_one_snapshot_while_others_write(database_url, sign_up, tmp_path, monkeypatch):
    """An account created while the export runs is not in the archive, though the export reads the accounts after it."""
    await sign_up("Before")
    await sign_up("Also before")

    async def sign_up_meanwhile() -> None:
        engine = create_engine(database_url)
        hashing = PasswordHashing(workers=1, waiting=0)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                await accounts.grant_role(
                    session, hashing, email="meanwhile@example.org", role=Role.staff, password=PASSWORD, display_name="Meanwhile"
                )
        finally:
            hashing.close()
            await engine.dispose()

    original_exit = backup_archive.TableSink.__exit__
    written: list[str] = []

    def exit_then_write(sink, *exc_info):
        original_exit(sink, *exc_info)
        written.append(sink._file.table)
        if len(written) == 1:  # the first table is written, the accounts and the audit log not yet read
            with ThreadPoolExecutor(1) as other_thread:
                other_thread.submit(asyncio.run, sign_up_meanwhile()).result()

    monkeypatch.setattr(backup_archive.TableSink, "__exit__", exit_then_write)
    path = tmp_path / "during.zip"
    manifest = await export_database(database_url, path)
    rows = {entry.table: entry.rows for entry in manifest.tables}
    assert written.index("participants") > 0 and written.index("audit_events") > 0
    assert rows["participants"] == 2
    assert b"meanwhile@example.org" not in members(path)["participants.jsonl"]
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(select(func.count()).select_from(Participant))).scalar_one() == 3
    finally:
        await engine.dispose()
