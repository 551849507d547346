"""The `cogov` command: serve the app, migrate the database, manage privileged accounts, check the audit chain, back up and restore."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from services.settings import Settings, SettingsError

app = typer.Typer(help="CoGov: multistakeholder norm-making with a public clearing house.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The public audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
search_app = typer.Typer(help="The search index.", no_args_is_help=True)
app.add_typer(search_app, name="search")
mail_app = typer.Typer(
    help="Mail written to the Maildir under the data directory (when no SMTP server is configured).", no_args_is_help=True
)
app.add_typer(mail_app, name="mail")

console = Console(stderr=True)


def _settings() -> Settings:
    try:
        settings = Settings()
        _ = settings.signing_key
        return settings
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Serve the API, pages and live sync (run `cogov db upgrade` first)."""
    import uvicorn

    settings = _settings()
    if not settings.log_json:  # in production every line of output is a JSON log record
        console.print(f"CoGov on http://{host}:{port}  (API docs: http://{host}:{port}/api/docs, database: {settings.database_url})")
    uvicorn.run(
        "services.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The app logs each request itself, with its request id, route and duration.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level=settings.log_level.lower(),
        access_log=False,
        # Sync frames are small or carry changes Automerge already compressed: deflating every frame
        # for every peer costs CPU on both ends for little (automerge-repo's `ws` server does not either).
        ws_per_message_deflate=False,
    )


@app.command()
def worker(once: bool = typer.Option(False, "--once", help="Do one round and exit (for cron jobs and checks).")) -> None:
    """Run the background jobs without serving HTTP: close ballots at their deadline, publish adopted norms,
    verify WebSub subscribers and make deliveries.

    Any number of workers (and `cogov serve` instances, which do the same unless COGOV_WORKER_IN_SERVE=false)
    may run at once.
    """
    import signal

    from norms import ballots
    from services.clearinghouse import worker as clearinghouse_worker
    from services.runtime import build_runtime
    from services.search import worker as search_worker

    settings = _settings()

    async def run() -> tuple[int, int]:
        runtime = build_runtime(settings)  # not the web app: the jobs need none of it
        made = clearinghouse_worker.for_runtime(runtime)
        try:
            if once:
                closed = await ballots.close_due(runtime.sessionmaker, runtime.clock)
                texts = await search_worker.reindex_stale_norms(runtime.sessionmaker, runtime.norm_store)
                return closed, await made.run_once() + texts
            stop = asyncio.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
            console.print(
                f"CoGov worker {made.id}: closing ballots, publishing, verifying subscribers, delivering, indexing norms' text"
                f" ({settings.database_url})"
            )
            async with ballots.closing_ballots(runtime.sessionmaker, runtime.clock, interval=ballots.SWEEP_SECONDS):
                async with clearinghouse_worker.running(made), search_worker.running(runtime):
                    await stop.wait()
            return 0, 0
        finally:
            await made.aclose()
            await runtime.aclose()

    closed, done = asyncio.run(run())
    if once:
        typer.echo(f"ballots closed: {closed}; clearing-house jobs done: {done}")


@search_app.command("reindex")
def search_reindex() -> None:
    """Rebuild the search index from the database: networks, norms (their live text too), versions, entries,
    consultations and visible comments. Searches go on answering meanwhile, from the old index until this commits."""
    from services.kit.db import transaction
    from services.runtime import build_runtime
    from services.search import index
    from services.search import worker as search_worker

    settings = _settings()

    async def run() -> tuple[int, int]:
        runtime = build_runtime(settings)
        try:
            async with transaction(runtime.sessionmaker) as session:
                await index.clear(session)
                rows = await index.rebuild(session)
            texts = 0
            while done := await search_worker.reindex_stale_norms(runtime.sessionmaker, runtime.norm_store):
                texts += done
            return rows, texts
        finally:
            await runtime.aclose()

    rows, texts = asyncio.run(run())
    console.print(f"search index rebuilt: {rows} things, {texts} norm texts ({settings.database_url})")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply every pending migration to the configured database."""
    import migrations

    settings = _settings()
    migrations.upgrade(settings.database_url, revision)
    console.print(f"database at {revision}: {settings.database_url}")


def _read_password(confirm: bool) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)


def _grant(email: str, role_name: str, display_name: str | None) -> None:
    from services.accounts import passwords
    from services.accounts import service as accounts
    from services.accounts.models import Role
    from services.accounts.security import PasswordHashing
    from services.kit.db import create_engine, create_sessionmaker, transaction
    from services.kit.errors import DomainError

    settings = _settings()
    role = Role(role_name)

    async def run() -> tuple[str, bool]:
        engine = create_engine(settings.database_url)
        hashing = PasswordHashing(workers=1, waiting=0)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                password = None
                if await accounts.by_email(session, email) is None:
                    password = _read_password(confirm=True)
                    if (weakness := passwords.weakness(password)) is not None:
                        raise typer.BadParameter(weakness, param_hint="password")
                participant = await accounts.grant_role(
                    session, hashing, email=email, role=role, password=password, display_name=display_name
                )
                return participant.email, participant.two_factor
        finally:
            hashing.close()
            await engine.dispose()

    try:
        granted, two_factor = asyncio.run(run())
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from exc
    console.print(f"{granted} is now {role.value}")
    if not two_factor:
        console.print(
            f"Two-factor sign-in is required for {role.value} actions, and this account has not enrolled yet: sign in at "
            f"{settings.base_url}/settings/two-factor, scan the QR code with an authenticator app and enter its code "
            "(API: POST /api/v1/me/two-factor/setup, then POST /api/v1/me/two-factor). Until then staff actions answer "
            '403 {"code": "two_factor_required"}.',
            highlight=False,
        )


@app.command("create-staff")
def create_staff(email: str, name: str | None = typer.Option(None, help="Display name when the account is created.")) -> None:
    """Make EMAIL clearing-house staff, creating the account (password prompted, or read from stdin) if needed."""
    _grant(email, "staff", name)


@app.command("create-registrar")
def create_registrar(email: str, name: str | None = typer.Option(None, help="Display name when the account is created.")) -> None:
    """Make EMAIL a registrar (verifies affiliations and organisations by hand; no say over norms), creating the
    account (password prompted, or read from stdin) if needed."""
    _grant(email, "registrar", name)


@app.command("create-admin")
def create_admin(email: str, name: str | None = typer.Option(None, help="Display name when the account is created.")) -> None:
    """Make EMAIL an administrator, creating the account (password prompted, or read from stdin) if needed."""
    _grant(email, "admin", name)


@app.command()
def demo(
    if_empty: bool = typer.Option(False, "--if-empty", help="Seed only a database without any account (as `make run` does)."),
    password: str | None = typer.Option(None, help="Password for every demo account (default: a random one, printed once)."),
) -> None:
    """Seed a realistic demo: 30 experts, three networks, norms with versions (idempotent)."""
    from services.accounts import passwords
    from services.api.app import create_app
    from services.web import demo as demo_data

    settings = _settings()
    if password is not None and (weakness := passwords.weakness(password)) is not None:
        raise typer.BadParameter(weakness, param_hint="--password")

    async def run() -> tuple[str, demo_data.Seeded | None]:
        app = create_app(settings)
        state = app.state
        try:
            if await demo_data.seeded_already(state.sessionmaker):
                return "seeded", None
            if if_empty and await demo_data.participant_count(state.sessionmaker):
                return "not_empty", None
            return "new", await demo_data.seed(
                state.sessionmaker, state.norm_store, state.taxonomy, password, hashing=state.password_hashing
            )
        finally:
            await state.sync_hub.stop()
            await state.engine.dispose()

    outcome, seeded = asyncio.run(run())
    if outcome == "seeded" or seeded is None:  # None: seeded meanwhile, by another run
        typer.echo(f"The demo is already seeded: sign in as {demo_data.EXPERTS[0].email} with the password printed when it was seeded.")
        return
    if outcome == "not_empty":
        typer.echo("The database already has accounts: no demo seeded (run `cogov demo` to add it anyway).")
        return
    typer.echo(f"Demo seeded: {seeded.experts} experts, {len(seeded.networks)} networks.")
    for name, status in seeded.networks:
        typer.echo(f"  {name}: {status}")
    typer.echo("Sign in at /signin as any demo expert, for instance:")
    for email, what in seeded.sample:
        typer.echo(f"  {email:<32} {what}")
    typer.echo(f"Every demo account's password is: {seeded.password}")
    typer.echo("(It is shown only now; run `cogov demo --password ...` on an empty database to choose it.)")


@app.command()
def verify(
    entry_file: str = typer.Argument(
        ...,
        metavar="ENTRY.json",
        help="A saved entry (GET /api/v1/clearinghouse/entries/{id}) or one item of a JSON Feed, or - for stdin.",
    ),
    keys: str | None = typer.Option(
        None, help="The key set to trust: a file, or a URL (default: the key set of the issuer the signed record names)."
    ),
    issuer: str | None = typer.Option(
        None, help="Refuse the entry unless its signed record names this issuer (e.g. https://clearing.example)."
    ),
) -> None:
    """Check a published entry offline: its signature under the clearing house's key, and every field against the record.

    The keys trusted are those given with --keys, or else those the record's own issuer publishes at its
    well-known address; never the entry's keys_url, which anyone re-signing a forgery could point elsewhere.
    """
    import json
    from pathlib import Path

    from services.clearinghouse.signing import VerificationFailed, check_entry, issuer_keys_url

    try:
        entry = json.loads(sys.stdin.read() if entry_file == "-" else Path(entry_file).read_text(encoding="utf-8"))
        record = entry.get("_cogov", entry).get("record") if isinstance(entry, dict) else None
        named = record.get("issuer") if isinstance(record, dict) else None
        if issuer is not None and named != issuer.rstrip("/"):
            raise VerificationFailed(f"the signed record names the issuer {named!r}, not {issuer.rstrip('/')!r}")
        source = keys or issuer_keys_url(record if isinstance(record, dict) else {})
        verified = check_entry(entry, _key_set(source))
    except (OSError, ValueError, AttributeError) as exc:
        console.print(f"[red]cannot verify:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    except VerificationFailed as exc:
        console.print(f"[red]NOT VERIFIED:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    except Exception as exc:  # httpx errors: the key set could not be fetched
        console.print(f"[red]cannot verify:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    trusted = f"the key set given with --keys ({keys})" if keys else f"the issuer's key set at {source}"
    typer.echo(f"verified: {verified_urn(entry)} issued by {verified.issuer}")
    typer.echo(f"  signed by key {verified.kid} from {trusted}")
    typer.echo("  its text matches the signed SHA-256, and every signed field matches the record")
    if verified.unsigned:
        typer.echo(f"  not covered by the signature: {', '.join(verified.unsigned)}")


def verified_urn(entry: dict) -> str:
    """The URN of a verified entry or JSON Feed item (checked against the record by then)."""
    return str(entry["_cogov"]["record"]["urn"] if "_cogov" in entry else entry["record"]["urn"])


@audit_app.command("verify")
def audit_verify(
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            metavar="CHECKPOINT.json",
            help="A signed tree head saved earlier (GET /api/v1/audit/tree-head): also prove today's log extends it.",
        ),
    ] = None,
    keys: str | None = typer.Option(
        None, help="With --against: the key set, a file or URL (default: the keys this database has published)."
    ),
) -> None:
    """Walk the audit chain and its Merkle tree; exit 1 and name each broken event if any row was altered, removed or reordered.

    With --against, also check the checkpoint's signature and that a consistency proof from its tree size to
    today's verifies (RFC 9162): exit 1 naming what does not hold when the log lost, changed or reordered any
    event the checkpoint covers, even with every later hash recomputed. Exit 2 when the checkpoint cannot be read.
    """
    import json

    from services.audit import merkle
    from services.audit.service import ChainReport, verify_chain
    from services.audit.tree_heads import CheckpointFailed, extends, verify_checkpoint_signature
    from services.clearinghouse.keys import key_set
    from services.kit.db import create_engine, create_sessionmaker, transaction

    settings = _settings()
    checkpoint = None
    if against is not None:
        try:
            checkpoint = json.loads(against.read_text(encoding="utf-8"))
            published = _key_set(keys) if keys else None
        except Exception as exc:  # unreadable file, bad JSON, a key set that cannot be fetched
            console.print(f"[red]cannot check the checkpoint:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from exc

    async def run() -> tuple[ChainReport, dict[str, object]]:
        engine = create_engine(settings.database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                report = await verify_chain(session)
                return report, await key_set(session, None)
        finally:
            await engine.dispose()

    report, stored_keys = asyncio.run(run())
    for broken in report.breaks:
        console.print(f"[red]event {broken.seq}:[/red] {broken.reason}", soft_wrap=True)
    failed = not report.intact
    if failed:
        console.print(f"audit chain BROKEN: {len(report.breaks)} problem(s) in {report.events} events")
    else:
        typer.echo(f"audit chain intact: {report.events} events")
    if checkpoint is not None:
        try:
            statement = verify_checkpoint_signature(checkpoint, published or stored_keys)
            proven = extends(statement, merkle.MemoryTree(report.leaves))
        except CheckpointFailed as exc:
            console.print(f"[red]checkpoint {against} NOT EXTENDED:[/red] {escape(str(exc))}", soft_wrap=True)
            failed = True
        else:
            typer.echo(
                f"the log extends checkpoint {against}: its {proven.first} events are the first of today's {proven.second} "
                f"(consistency proof verified; today's root {proven.root})"
            )
    if failed:
        raise typer.Exit(1)


def _key_set(source: str) -> dict[str, object]:
    import json

    if source.startswith(("http://", "https://")):
        import httpx

        return httpx.get(source, timeout=15).raise_for_status().json()
    return json.loads(Path(source).read_text(encoding="utf-8"))


@mail_app.command("list")
def mail_list() -> None:
    """Number, date, recipient and subject of every mail in `$COGOV_DATA_DIR/mail/`, oldest first."""
    from services.mail import transport

    path = transport.maildir_path(_settings())
    mails = transport.stored(path)
    if not mails:
        typer.echo(f"no mail in {path}")
    for number, message in enumerate(mails, start=1):
        typer.echo(f"{number:>4}  {message['Date']}  {message['To']}  {message['Subject']}")


@mail_app.command("show")
def mail_show(number: int = typer.Argument(..., help="The mail's number in `cogov mail list` (1 is the oldest).")) -> None:
    """The headers and plain text of one mail in `$COGOV_DATA_DIR/mail/`, its links as they are."""
    from services.mail import message as mail_message
    from services.mail import transport

    path = transport.maildir_path(_settings())
    mails = transport.stored(path)
    if not 1 <= number <= len(mails):
        console.print(f"[red]error:[/red] no mail number {number} in {path} ({len(mails)} there)")
        raise typer.Exit(1)
    message = mails[number - 1]
    for header in ("Date", "From", "To", "Subject", "Message-ID"):
        typer.echo(f"{header}: {message[header]}")
    typer.echo("")
    typer.echo(mail_message.text_of(message))


@app.command("export")
def export_backup(
    path: Annotated[Path, typer.Argument(help="The archive to write (a new file; refused if it exists).")],
) -> None:
    """Back up the whole database into one archive, read from one consistent snapshot (safe while serving).

    The archive holds secrets (password hashes, WebSub secrets): store it as carefully as the database.
    """
    from sqlalchemy.exc import DBAPIError

    from services.backup.service import DatabaseNotReady, export_database

    settings = _settings()
    try:
        manifest = asyncio.run(export_database(settings.database_url, path))
    except (DatabaseNotReady, FileExistsError) as exc:
        console.print(f"[red]export refused:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(3) from exc
    except (OSError, DBAPIError) as exc:
        console.print(f"[red]export failed, no archive written:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    rows = sum(entry.rows for entry in manifest.tables)
    typer.echo(
        f"exported {rows} rows of {len(manifest.tables)} tables (schema {manifest.schema_revision}) to {path} ({path.stat().st_size} bytes)"
    )


@app.command("import")
def import_backup(
    path: Annotated[Path, typer.Argument(help="An archive written by `cogov export`.")],
    max_member_bytes: int = typer.Option(
        64 * 2**30, min=1, help="Refuse an archive whose table file would unpack to more than this many bytes."
    ),
) -> None:
    """Restore an archive into the configured database, which must be new, empty and migrated (`cogov db upgrade`).

    All or nothing: any problem with the archive or the database leaves the database as it was.
    Exit codes: 1 the archive is refused, 3 the database is not ready (not migrated, not empty, or unreachable).
    """
    from sqlalchemy.exc import DBAPIError

    from services.backup.archive import ArchiveRejected, Limits
    from services.backup.service import DatabaseNotReady, import_database

    settings = _settings()
    try:
        restored = asyncio.run(import_database(settings.database_url, path, Limits(member_bytes=max_member_bytes)))
    except ArchiveRejected as exc:
        console.print(f"[red]archive refused, nothing restored:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    except DatabaseNotReady as exc:
        console.print(f"[red]import refused, nothing restored:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(3) from exc
    except (OSError, DBAPIError) as exc:
        console.print(f"[red]import failed, nothing restored:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(3) from exc
    manifest = restored.manifest
    typer.echo(
        f"restored {restored.rows} rows of {len(manifest.tables)} tables from {path} "
        f"(exported from {manifest.source} at {manifest.created_at.isoformat()})"
    )


@app.command("sync-cat")
def sync_cat(
    url: str = typer.Argument(..., help="The norm's Automerge URL (automerge:…), as the norm's page and API show it."),
    server: str = typer.Option("http://127.0.0.1:8000", help="The CoGov server's address."),
    token: str | None = typer.Option(None, envvar="COGOV_TOKEN", help="A bearer token, to connect as yourself (public norms need none)."),
    once: bool = typer.Option(False, "--once", help="Print the current text and exit."),
) -> None:
    """Print a norm's text, live: again each time anyone changes it (Ctrl-C to stop)."""
    import httpx

    from services.realtime.client import SyncClient, SyncError

    base = server.rstrip("/")
    sync_url = ("wss://" if base.startswith("https://") else "ws://") + base.split("://", 1)[-1] + "/api/v1/sync"

    async def run() -> None:
        ticket = None
        if token:
            async with httpx.AsyncClient() as http:
                answer = await http.post(f"{base}/api/v1/sync/tickets", headers={"Authorization": f"Bearer {token}"})
            if answer.status_code != 201:
                raise SyncError(f"no ticket: {answer.status_code} {answer.text[:200]}")
            ticket = answer.json()["ticket"]
        client = await SyncClient.connect(sync_url, ticket=ticket)
        try:
            handle = await client.open(url)
            shown = handle.text
            _show(shown, first=True)
            if once:
                return
            changed = asyncio.Event()  # the text changed, or the socket closed
            handle.listeners.append(lambda _handle: changed.set())
            client.closed.add_done_callback(lambda _closed: changed.set())
            while not client.closed.done():
                await changed.wait()
                changed.clear()
                if handle.text != shown:
                    shown = handle.text
                    _show(shown, first=False)
            code, reason = client.closed.result()
            raise SyncError(f"the server closed the connection ({code} {reason})")
        finally:
            await client.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except (SyncError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


def _show(text: str, first: bool) -> None:
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[2J\x1b[H")  # redraw in place
    elif not first:
        sys.stdout.write("\f\n")  # a form feed between versions when piped
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    app()
