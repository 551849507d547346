"""Fault scenarios over real processes, each returning what it counted (tests/faults runs them small, bench/faults.py full size).

What "acknowledged" means, from the protocol: a peer's change is acknowledged once a server sent
the peer a sync message whose heads descend from it. The server sends heads only from its
resident document, which holds nothing the norm store has not committed to `norm_changes`, so an
acknowledged change must be in the database, whatever crashes afterwards. The scenarios record
every set of heads each peer hears, and at each fault compare what was acknowledged so far with
the rows of `norm_changes`.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import uvicorn
from sqlalchemy.engine import make_url

from norms.document import parse_document_id
from services.realtime import sync_message
from services.realtime.client import DocumentHandle, SyncClient
from tests.clearinghouse.subscriber import Subscriber
from tests.faults.processes import CogovServer, PrivatePostgres, RedisServer, Worker, free_port, serve
from tests.fixtures.app import TestServer
from tests.fixtures.norms import COUNCIL, COUNCIL_CHARTER

PASSWORD = "fault scenario password"
TEXT = "Platforms publish their ranking criteria."
EDITORS = [
    ("Amina", "civil_society", "KE", "Digital Rights Kenya"),
    ("Bruno", "private_sector", "BR", "Rede Aberta"),
    ("Chen", "technical_academic", "SG", "NUS"),
    ("Dana", "civil_society", "DE", "EDRi"),
    ("Emeka", "government", "NG", "Ministry of Communications"),
]


@dataclass
class Outcome:
    """One scenario's counts, as bench/faults.py prints them."""

    scenario: str
    acknowledged: int
    lost: int
    duplicated: int
    converge_seconds: float | None
    faults: str
    notes: list[str] = field(default_factory=list)
    # Further counts a scenario checks (each must be 0), such as edits acknowledged while the database was down.
    violations: dict[str, int] = field(default_factory=dict)


# --- Databases and people ----------------------------------------------------------------


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def query(database_url: str, sql: str, *args) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


async def stored_changes(database_url: str, document_id: bytes) -> dict[bytes, datetime]:
    """Hash → received_at of every change stored for the document."""
    rows = await query(database_url, "SELECT hash, received_at FROM norm_changes WHERE document_id = $1", document_id)
    return {bytes(row["hash"]): row["received_at"] for row in rows}


async def register(http: httpx.AsyncClient, database_url: str, name: str, group: str, country: str, organisation: str) -> dict:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.org"
    created = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
    assert created.status_code == 202, created.text
    # As opening the mailed verification link would: these people take part.
    await query(database_url, "UPDATE participants SET email_verified_at = now() WHERE email = $1", email)
    token = await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    affiliated = await http.put(
        "/api/v1/me/affiliation", json={"stakeholder_group": group, "country": country, "organisation": organisation}, headers=headers
    )
    assert affiliated.status_code == 200, affiliated.text
    return {"id": (await http.get("/api/v1/me", headers=headers)).json()["id"], "name": name, "headers": headers}


async def found_network(http: httpx.AsyncClient, database_url: str, rows, charter: dict | None = None) -> dict:
    """A network of the people in `rows` (the first founds and convenes it): {"slug", "members"}."""
    members = [await register(http, database_url, *row) for row in rows]
    body = {
        "name": f"Fault drill {uuid.uuid4().hex[:6]}",
        "issue": "Recommender systems shape public debate without public insight.",
        "aims": "Voluntary transparency norms for large platforms.",
        "intended_outcome": "A norm platforms and regulators can adopt.",
    }
    if charter is not None:
        body["charter"] = charter
    created = await http.post("/api/v1/networks", json=body, headers=members[0]["headers"])
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in members[1:]:
        joined = await http.post(f"/api/v1/networks/{slug}/join", headers=person["headers"])
        assert joined.status_code in (200, 201), joined.text
    return {"slug": slug, "members": members}


async def create_norm(http: httpx.AsyncClient, network: dict, title: str = "Recommender transparency") -> dict:
    created = await http.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": title, "text": TEXT}, headers=network["members"][0]["headers"]
    )
    assert created.status_code == 201, created.text
    return created.json()


def base(server: CogovServer) -> str:
    return f"http://127.0.0.1:{server.port}"


# --- Editing peers -----------------------------------------------------------------------


@dataclass(eq=False)
class Typist:
    """One participant's Python peer, redialling by itself; what it made and every set of heads it heard."""

    person: dict
    handle: DocumentHandle
    made: set[bytes] = field(default_factory=set)
    heads_heard: set[bytes] = field(default_factory=set)
    # (time.time(), heads) of each sync message from a server.
    heard: list[tuple[float, frozenset[bytes]]] = field(default_factory=list)
    typing: asyncio.Task | None = None

    def acknowledged(self) -> set[bytes]:
        """This peer's changes that some server reported as stored (ancestors of any heads it sent)."""
        heads = sorted(head for head in self.heads_heard if self.handle.has_change(head))
        if not heads:
            return set()
        not_below = {change.hash for change in self.handle.doc.get_changes(heads)}
        return {change for change in self.made if change not in not_below}

    def below(self, heads: frozenset[bytes]) -> set[bytes]:
        """Every change (anyone's) these heads descend from, as far as this replica knows them."""
        known = sorted(head for head in heads if self.handle.has_change(head))
        everything = {change.hash for change in self.handle.doc.get_changes([])}
        return everything - {change.hash for change in self.handle.doc.get_changes(known)} if known else set()

    async def type(self, edits: int, pause: float, seed: int) -> None:
        """Insert `edits` characters one change at a time at random places; offline edits wait in the replica."""
        rng = random.Random(seed)
        for _ in range(edits):
            self.made.update(await self.handle.splice(rng.randint(0, len(self.handle.text)), 0, rng.choice("abcdefghij ")))
            await asyncio.sleep(pause)


def dialler(servers: list[CogovServer], person: dict, choose: Callable[[], CogovServer]):
    """What a peer dials after a drop: an instance `choose` picks, with a fresh ticket from that instance."""

    async def dial() -> tuple[str, str]:
        server = choose()
        async with httpx.AsyncClient(base_url=base(server), timeout=5) as http:
            response = await http.post("/api/v1/sync/tickets", headers=person["headers"])
            response.raise_for_status()
            return server.sync_url, response.json()["ticket"]

    return dial


async def join_typist(person: dict, norm_url: str, dial) -> Typist:
    url, ticket = await dial()
    client = await SyncClient.connect(url, ticket=ticket, reconnect=dial, timeout=30)
    handle = await client.open(norm_url, timeout=60)
    typist = Typist(person, handle)
    original = handle._receive

    async def receive(data: bytes) -> None:
        heads = frozenset(sync_message.decode(data).heads)
        typist.heard.append((time.time(), heads))
        typist.heads_heard |= heads
        await original(data)

    handle._receive = receive
    return typist


async def converge(typists: list[Typist], server: CogovServer, norm_id: str, timeout: float) -> float | None:
    """Seconds until every peer holds the same heads, the servers report them, and the API serves them (None: not within `timeout`)."""
    try:
        return await _converge(typists, server, norm_id, timeout)
    except TimeoutError:
        return None


async def _converge(typists: list[Typist], server: CogovServer, norm_id: str, timeout: float) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base(server), timeout=5) as http, asyncio.timeout(timeout):
        while True:
            heads = [typist.handle.heads for typist in typists]
            if all(h == heads[0] for h in heads) and all(t.handle.server_heads == heads[0] for t in typists):
                try:
                    served = (await http.get(f"/api/v1/norms/{norm_id}")).json()
                except (httpx.HTTPError, ValueError):
                    served = {}
                if {bytes.fromhex(h) for h in served.get("heads", [])} == heads[0]:
                    return time.monotonic() - started
            for typist in typists:
                await typist.handle.flush()
            await asyncio.sleep(0.05)


def start_typing(typists: list[Typist], edits: int, pause: float, seed: int) -> asyncio.Future:
    """Every peer types `edits` characters, one every `pause` seconds; the future ends when all have."""
    for n, typist in enumerate(typists):
        typist.typing = asyncio.ensure_future(typist.type(edits, pause, seed * 100 + n))
    return asyncio.gather(*(typist.typing for typist in typists))


async def close_typists(typists: list[Typist]) -> None:
    for typist in typists:
        if typist.typing is not None:
            typist.typing.cancel()
    await asyncio.gather(*(typist.handle.client.close() for typist in typists), return_exceptions=True)


async def _edits_outcome(
    name: str,
    typists: list[Typist],
    database_url: str,
    norm: dict,
    converge_seconds: float | None,
    faults: str,
    lost_at_faults: int,
    checked_at_faults: int,
) -> Outcome:
    document_id = parse_document_id(norm["url"])
    stored = await stored_changes(database_url, document_id)
    rows = (await query(database_url, "SELECT count(*) AS n FROM norm_changes WHERE document_id = $1", document_id))[0]["n"]
    made = set().union(*(typist.made for typist in typists))
    acknowledged = set().union(*(typist.acknowledged() for typist in typists))
    text = typists[0].handle.text
    typed = sum(len(typist.made) for typist in typists)
    notes = [
        f"{len(made)} edits made, {checked_at_faults} acknowledged ones checked against norm_changes at the faults, "
        f"{lost_at_faults} of them missing",
        f"text holds {len(text) - len(TEXT)} typed characters for {typed} one-character edits",
    ]
    ended = [typist.handle.client.closed.result() for typist in typists if typist.handle.client.closed.done()]
    if converge_seconds is None or ended:
        # What a failure needs to be understood: where each replica stands and how its sockets ended.
        notes.append(f"peers closed for good: {ended}; sockets lost: {[typist.handle.client.drops for typist in typists]}")
        notes.append(
            "peers lacking changes others made: "
            f"{[len(made - {c for c in made if typist.handle.has_change(c)}) for typist in typists]}; "
            f"peers whose server heads differ from their own: {sum(t.handle.server_heads != t.handle.heads for t in typists)}"
        )
    return Outcome(
        name,
        len(acknowledged),
        len(acknowledged - stored.keys()) + lost_at_faults + len(made - stored.keys()),
        rows - len(stored) + max(0, len(text) - len(TEXT) - typed),
        converge_seconds,
        faults,
        notes,
    )


# --- Scenarios ---------------------------------------------------------------------------


async def kill_api_instances(
    postgres: PrivatePostgres,
    workdir: Path,
    *,
    instances: int = 3,
    peers: int = 5,
    edits: int = 1000,
    kills: int = 20,
    pause: float = 0.02,
    seed: int = 1,
) -> Outcome:
    """kill -9 a random `cogov serve` of several (one database, one Redis) while peers type; restart it at once."""
    rng = random.Random(seed)
    database_url = await postgres.create_database()
    redis = await RedisServer().start()
    servers = [serve(database_url, workdir, redis.url) for _ in range(instances)]
    typists: list[Typist] = []
    restarting: dict[CogovServer, asyncio.Task] = {}
    try:
        await asyncio.gather(*(server.start() for server in servers))
        async with httpx.AsyncClient(base_url=base(servers[0]), timeout=30) as http:
            network = await found_network(http, database_url, EDITORS[:peers])
            norm = await create_norm(http, network)
        for person in network["members"]:
            typists.append(await join_typist(person, norm["url"], dialler(servers, person, lambda: rng.choice(servers))))
        document_id = parse_document_id(norm["url"])
        typing = start_typing(typists, edits, pause, seed)
        total = peers * edits
        lost_at_kills = checked = 0
        for k in range(kills):
            while sum(len(t.made) for t in typists) < total * (k + 1) / (kills + 1) and not typing.done():
                await asyncio.sleep(0.02)
            # One instance at least stays up; a restarting one is not killed again before it answers.
            for server, task in list(restarting.items()):
                if task.done():
                    del restarting[server]
                    task.result()
            running = [server for server in servers if server not in restarting]
            while len(running) < min(2, len(servers)):
                running.append(await _first_back(restarting))
            victim = rng.choice(running)
            victim.kill()
            acknowledged = set().union(*(typist.acknowledged() for typist in typists))
            stored = await stored_changes(database_url, document_id)
            lost_at_kills += len(acknowledged - stored.keys())
            checked += len(acknowledged)
            restarting[victim] = asyncio.create_task(victim.start())
        await typing
        typed_until = time.monotonic()
        await asyncio.gather(*restarting.values())
        last_restart = time.monotonic()
        typed_after_restart = typed_until - last_restart
        waited = await converge(typists, servers[0], norm["id"], timeout=120)
        outcome = await _edits_outcome(
            f"kill -9 an API instance ({instances} running)",
            typists,
            database_url,
            norm,
            waited,
            f"{kills} kills, {peers} peers × {edits} edits",
            lost_at_kills,
            checked,
        )
        outcome.notes.append(
            f"last edit {typed_after_restart:+.1f} s from the end of the last restart; convergence counted from the later; "
            f"peers reconnected {sum(t.handle.client.reconnects for t in typists)} times by themselves"
        )
        return outcome
    finally:
        for task in restarting.values():
            task.cancel()
        await close_typists(typists)
        for server in servers:
            server.kill()
        redis.stop()


async def _first_back(restarting: dict[CogovServer, asyncio.Task]) -> CogovServer:
    """Wait for the first restarting instance to answer; it is running again."""
    done, _ = await asyncio.wait(restarting.values(), return_when=asyncio.FIRST_COMPLETED)
    for server, task in list(restarting.items()):
        if task in done:
            del restarting[server]
            task.result()
            return server
    raise AssertionError("no instance came back")


async def restart_database(
    postgres: PrivatePostgres,
    workdir: Path,
    *,
    peers: int = 5,
    edits: int = 1000,
    restarts: int = 5,
    down_seconds: float = 2.0,
    pause: float = 0.02,
    seed: int = 2,
) -> Outcome:
    """Stop PostgreSQL (fast shutdown) and start it again, several times, while peers type on one `cogov serve`."""
    database_url = await postgres.create_database()
    server = serve(database_url, workdir)
    typists: list[Typist] = []
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=base(server), timeout=30) as http:
            network = await found_network(http, database_url, EDITORS[:peers])
            norm = await create_norm(http, network)
        for person in network["members"]:
            typists.append(await join_typist(person, norm["url"], dialler([server], person, lambda: server)))
        document_id = parse_document_id(norm["url"])
        typing = start_typing(typists, edits, pause, seed)
        total = peers * edits
        windows: list[tuple[float, float]] = []  # (stopped, starting again), time.time()
        answers: Counter = Counter()
        lost_at_restarts = checked = 0
        for r in range(restarts):
            while sum(len(t.made) for t in typists) < total * (r + 1) / (restarts + 1) and not typing.done():
                await asyncio.sleep(0.02)
            await asyncio.to_thread(postgres.stop)
            stopped = time.time()
            # What a client of the HTTP API hears meanwhile: a ticket needs the database.
            async with httpx.AsyncClient(base_url=base(server), timeout=10) as http:
                asked = await http.post("/api/v1/sync/tickets", headers=typists[0].person["headers"])
                answers[f"{asked.status_code} Retry-After: {asked.headers.get('retry-after')}"] += 1
            await asyncio.sleep(max(0.0, down_seconds - (time.time() - stopped)))
            starting = time.time()
            await postgres.start()
            windows.append((stopped, starting))
            acknowledged = set().union(*(typist.acknowledged() for typist in typists))
            stored = await stored_changes(database_url, document_id)
            lost_at_restarts += len(acknowledged - stored.keys())
            checked += len(acknowledged)
        await typing
        waited = await converge(typists, server, norm["id"], timeout=120)
        outcome = await _edits_outcome(
            "PostgreSQL restarted (fast shutdown)",
            typists,
            database_url,
            norm,
            waited,
            f"{restarts} restarts of {down_seconds:g} s, {peers} peers × {edits} edits",
            lost_at_restarts,
            checked,
        )
        # Acknowledgements heard while the database was down may only cover changes committed before it went down.
        stored = await stored_changes(database_url, document_id)
        heard_down = 0
        acknowledged_while_down: set[bytes] = set()
        for typist in typists:
            for at, heads in typist.heard:
                for stopped, starting in windows:
                    if stopped <= at <= starting:
                        heard_down += 1
                        for change in typist.below(heads):
                            committed = stored.get(change)
                            if committed is None or committed.timestamp() >= stopped:
                                acknowledged_while_down.add(change)
        outcome.notes.append(
            f"{heard_down} sync messages heard while the database was down; {len(acknowledged_while_down)} changes acknowledged "
            "that were not committed before it went down"
        )
        outcome.violations["acknowledged while the database was down"] = len(acknowledged_while_down)
        outcome.violations["HTTP answers other than 503 while it was down"] = sum(
            n for answer, n in answers.items() if not answer.startswith("503")
        )
        outcome.notes.append(f"POST /api/v1/sync/tickets while the database was down: {dict(answers)}")
        drops = Counter(f"{code} {reason}".strip() for typist in typists for code, reason in typist.handle.client.drops)
        outcome.notes.append(
            f"peers reconnected {sum(t.handle.client.reconnects for t in typists)} times by themselves; sockets closed: {dict(drops)}"
        )
        return outcome
    finally:
        await close_typists(typists)
        server.kill()


async def stop_redis(
    postgres: PrivatePostgres,
    workdir: Path,
    *,
    peers: int = 5,
    edits: int = 400,
    down_seconds: float = 60.0,
    pause: float = 0.02,
    seed: int = 3,
) -> Outcome:
    """Stop Redis (the broker between two instances) while peers on both type; measure convergence once it is back."""
    database_url = await postgres.create_database()
    redis = await RedisServer().start()
    # The catch-up timer at its production default, so convergence is not owed to a test setting.
    servers = [serve(database_url, workdir, redis.url, sync_catch_up_seconds="5") for _ in range(2)]
    typists: list[Typist] = []
    try:
        await asyncio.gather(*(server.start() for server in servers))
        async with httpx.AsyncClient(base_url=base(servers[0]), timeout=30) as http:
            network = await found_network(http, database_url, EDITORS[:peers])
            norm = await create_norm(http, network)
        for n, person in enumerate(network["members"]):
            home = servers[n % 2]
            typists.append(await join_typist(person, norm["url"], dialler(servers, person, lambda home=home: home)))
        typing = start_typing(typists, edits, pause, seed)
        finished: list[float] = []
        typing.add_done_callback(lambda _: finished.append(time.monotonic()))
        total = peers * edits
        while sum(len(t.made) for t in typists) < total / 4 and not typing.done():
            await asyncio.sleep(0.02)
        redis.stop()
        await asyncio.sleep(down_seconds)
        redis.process = None
        await redis.start()
        back = time.monotonic()
        # Peers may still be typing: convergence after Redis's return is every peer holding every edit made until then.
        made_before = set().union(*(typist.made for typist in typists))
        caught_up: float | None = None
        with suppress(TimeoutError):
            async with asyncio.timeout(120):
                while not all(typist.handle.has_change(change) for typist in typists for change in made_before):
                    await asyncio.sleep(0.05)
                caught_up = time.monotonic() - back
        await typing
        typed_until = finished[0]
        waited = await converge(typists, servers[1], norm["id"], timeout=120)
        outcome = await _edits_outcome(
            "Redis stopped (two instances)",
            typists,
            database_url,
            norm,
            caught_up,
            f"Redis down {down_seconds:g} s, {peers} peers × {edits} edits",
            0,
            0,
        )
        outcome.notes.append(
            f"{len(made_before)} edits made before Redis came back were on every peer {_seconds(caught_up)} after; typing went on "
            f"{max(0.0, typed_until - back):.1f} s after its return; all replicas equal {_seconds(waited)} after the last edit"
        )
        if waited is None:
            outcome.converge_seconds = None
        return outcome
    finally:
        await close_typists(typists)
        for server in servers:
            server.kill()
        redis.stop()


def _seconds(value: float | None) -> str:
    return "never (timed out)" if value is None else f"{value:.1f} s"


class SubscriberServer:
    """A WebSub subscriber on a fixed port, which can be taken down and brought back at the same address."""

    def __init__(self, delay: float = 0.0) -> None:
        self.app = Subscriber(delay=delay)
        self.app.port = free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> SubscriberServer:
        self._server = TestServer(uvicorn.Config(self.app, host="127.0.0.1", port=self.app.port, log_level="critical", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = self._server.force_exit = True
            await self._task
            self._server = None


async def _subscribe_all(http: httpx.AsyncClient, subscriber: SubscriberServer, count: int, database_url: str) -> list[str]:
    topic = "http://127.0.0.1:8000/feeds/norms.atom"  # the instances' base URL is the default
    callbacks = [subscriber.app.url(f"/s{n}") for n in range(count)]
    for callback in callbacks:
        response = await http.post(
            "/websub", data={"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback, "hub.secret": "s3cret"}
        )
        assert response.status_code == 202, response.text
    async with asyncio.timeout(120):
        while (await query(database_url, "SELECT count(*) AS n FROM websub_subscriptions WHERE state::text = 'active'"))[0]["n"] < count:
            await asyncio.sleep(0.2)
    return callbacks


async def adopt_norm(http: httpx.AsyncClient, council: dict, title: str) -> dict:
    """A new norm tagged v1, a ballot on it, and every elector approving (the last vote closes and adopts)."""
    convener = council["members"][0]
    norm = await create_norm(http, council, title)
    tagged = await http.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "For sign-off"}, headers=convener["headers"])
    assert tagged.status_code == 201, tagged.text
    closes_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    opened = await http.post(
        f"/api/v1/norms/{norm['id']}/ballots", json={"version": 1, "closes_at": closes_at}, headers=convener["headers"]
    )
    assert opened.status_code == 201, opened.text
    for member in council["members"]:
        voted = await http.put(f"/api/v1/ballots/{opened.json()['id']}/vote", json={"position": "approve"}, headers=member["headers"])
        assert voted.status_code == 200, voted.text
    assert voted.json()["adopted"] is True
    return norm


async def _delivery_counts(database_url: str) -> Counter:
    rows = await query(database_url, "SELECT status::text AS status, count(*) AS n FROM websub_deliveries GROUP BY status")
    return Counter({row["status"]: row["n"] for row in rows})


def _settled(counts: Counter, total: int) -> bool:
    """Every delivery made was sent, or replaced by a newer one to the same subscriber (which carries its entries)."""
    return counts["delivered"] + counts["superseded"] >= total and counts["pending"] == 0


def _received_outcome(
    name: str, subscriber: SubscriberServer, total: int, seconds: float, faults: str, notes: list[str], *, adoptions: int
) -> Outcome:
    """Acknowledged: the (subscriber, adopted norm) pairs whose entry reached that subscriber in an accepted notification
    (each carries the whole feed, so a newer one acknowledges the entries of one it replaced)."""
    accepted = [d for d in subscriber.app.deliveries if 200 <= d.status < 300]
    received = {(d.path, n) for d in accepted for n in range(adoptions) if re.search(rf"<title[^>]*>Norm {n}</title>", d.body.decode())}
    ids = Counter(d.headers.get("x-cogov-delivery") for d in accepted)
    # A duplicate must be the same delivery again: one delivery id for each (callback, notification).
    ids_per_content: dict[tuple[str, str], set[str]] = {}
    for d in accepted:
        ids_per_content.setdefault((d.path, hashlib.sha256(d.body).hexdigest()), set()).add(d.headers.get("x-cogov-delivery"))
    foreign = sum(len(found) - 1 for found in ids_per_content.values())
    notes = [*notes, f"duplicates: {sum(ids.values()) - len(ids)} arrivals repeated a delivery id, {foreign} came under another id"]
    outcome = Outcome(name, len(received), total - len(received), sum(ids.values()) - len(ids) + foreign, seconds, faults, notes)
    outcome.violations["the same notification under two delivery ids"] = foreign
    return outcome


async def kill_worker(
    postgres: PrivatePostgres,
    workdir: Path,
    *,
    subscribers: int = 50,
    adoptions: int = 10,
    kills: int = 20,
    delay: float = 0.1,
    concurrency: int = 4,
) -> Outcome:
    """kill -9 `cogov worker` repeatedly while it delivers adoptions to WebSub subscribers; restart it each time."""
    database_url = await postgres.create_database()
    server = serve(database_url, workdir, allow_private_callbacks="1")
    worker = Worker(
        database_url,
        workdir,
        delivery_lease_seconds="2",
        worker_poll_seconds="0.2",
        callback_timeout_seconds="10",
        delivery_concurrency=str(concurrency),
    )
    subscriber = await SubscriberServer(delay=delay).start()
    try:
        await server.start()
        worker.start()
        async with httpx.AsyncClient(base_url=base(server), timeout=30) as http:
            await _subscribe_all(http, subscriber, subscribers, database_url)
            council = await found_network(http, database_url, COUNCIL, COUNCIL_CHARTER)
            for n in range(adoptions):
                await adopt_norm(http, council, f"Norm {n}")
        total = subscribers * adoptions
        started = time.monotonic()
        for k in range(kills):
            target = total * (k + 1) / (kills + 1)
            async with asyncio.timeout(120):
                while subscriber.app.arrivals < target and sum((await _delivery_counts(database_url)).values()) <= total:
                    if _settled(await _delivery_counts(database_url), total):
                        break
                    await asyncio.sleep(0.05)
            worker.kill()
            worker.start()
        restarted = time.monotonic()
        async with asyncio.timeout(300):
            while not _settled(counts := await _delivery_counts(database_url), total):
                await asyncio.sleep(0.1)
        seconds = time.monotonic() - restarted
        notes = [
            f"deliveries in the outbox: {dict(counts)}",
            f"worker killed {worker.kills} times",
            f"{time.monotonic() - started:.1f} s from the first kill to the last delivery",
        ]
        return _received_outcome(
            "kill -9 the delivery worker", subscriber, total, seconds, f"{kills} kills, {total} deliveries", notes, adoptions=adoptions
        )
    finally:
        worker.kill()
        server.kill()
        await subscriber.stop()


async def subscriber_down(
    postgres: PrivatePostgres, workdir: Path, *, subscribers: int = 20, adoptions: int = 5, down_seconds: float = 600
) -> Outcome:
    """A subscriber unreachable from the first adoption for `down_seconds`: every delivery arrives after it returns (real backoff)."""
    database_url = await postgres.create_database()
    server = serve(database_url, workdir, allow_private_callbacks="1")
    worker = Worker(database_url, workdir, worker_poll_seconds="0.5", callback_timeout_seconds="5")
    subscriber = await SubscriberServer().start()
    try:
        await server.start()
        worker.start()
        async with httpx.AsyncClient(base_url=base(server), timeout=30) as http:
            await _subscribe_all(http, subscriber, subscribers, database_url)
            await subscriber.stop()  # verified, then gone
            down = time.monotonic()
            council = await found_network(http, database_url, COUNCIL, COUNCIL_CHARTER)
            for n in range(adoptions):
                await adopt_norm(http, council, f"Norm {n}")
        total = subscribers * adoptions
        async with asyncio.timeout(120):
            while (await query(database_url, "SELECT count(*) AS n FROM websub_delivery_attempts"))[0]["n"] < total:
                await asyncio.sleep(0.2)
        failed_attempts = (await query(database_url, "SELECT count(*) AS n FROM websub_delivery_attempts"))[0]["n"]
        await asyncio.sleep(max(0.0, down_seconds - (time.monotonic() - down)))
        await subscriber.start()
        back = time.monotonic()
        async with asyncio.timeout(down_seconds + 3600):
            while not _settled(counts := await _delivery_counts(database_url), total):
                await asyncio.sleep(0.5)
        seconds = time.monotonic() - back
        attempts = (await query(database_url, "SELECT count(*) AS n FROM websub_delivery_attempts"))[0]["n"]
        notes = [f"{failed_attempts}+ refused attempts while down, {attempts} attempts in all", f"deliveries in the outbox: {dict(counts)}"]
        return _received_outcome(
            "subscriber down, then back",
            subscriber,
            total,
            seconds,
            f"down {down_seconds:g} s, {total} deliveries",
            notes,
            adoptions=adoptions,
        )
    finally:
        worker.kill()
        server.kill()
        await subscriber.stop()


async def race_ballot_closing(postgres: PrivatePostgres, workdir: Path, *, ballots: int = 100) -> Outcome:
    """The last two votes and two convener closes of each ballot sent at once to two instances: one adoption per ballot."""
    database_url = await postgres.create_database()
    # One convener opening and closing a hundred ballots a minute is a drill, not abuse: no write limit here.
    servers = [serve(database_url, workdir, rate_limits_enabled="false") for _ in range(2)]
    try:
        await asyncio.gather(*(server.start() for server in servers))
        async with (
            httpx.AsyncClient(base_url=base(servers[0]), timeout=30) as first,
            httpx.AsyncClient(base_url=base(servers[1]), timeout=30) as second,
        ):
            council = await found_network(first, database_url, COUNCIL, COUNCIL_CHARTER)
            convener, bruno, chen, dana = council["members"]
            ballot_ids = []
            started = time.monotonic()
            statuses: Counter = Counter()
            for n in range(ballots):
                norm = await create_norm(first, council, f"Norm {n}")
                tagged = await first.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "v1"}, headers=convener["headers"])
                assert tagged.status_code == 201, tagged.text
                closes_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
                opened = await first.post(
                    f"/api/v1/norms/{norm['id']}/ballots", json={"version": 1, "closes_at": closes_at}, headers=convener["headers"]
                )
                assert opened.status_code == 201, opened.text
                ballot = opened.json()["id"]
                ballot_ids.append(ballot)
                for member in (convener, bruno):
                    voted = await first.put(f"/api/v1/ballots/{ballot}/vote", json={"position": "approve"}, headers=member["headers"])
                    assert voted.status_code == 200, voted.text
                raced = await asyncio.gather(
                    first.put(f"/api/v1/ballots/{ballot}/vote", json={"position": "approve"}, headers=chen["headers"]),
                    second.put(f"/api/v1/ballots/{ballot}/vote", json={"position": "approve"}, headers=dana["headers"]),
                    first.post(f"/api/v1/ballots/{ballot}/close", headers=convener["headers"]),
                    second.post(f"/api/v1/ballots/{ballot}/close", headers=convener["headers"]),
                )
                statuses.update(response.status_code for response in raced)
                assert all(response.status_code < 500 for response in raced), [r.text for r in raced]
            seconds = time.monotonic() - started
        adoptions = Counter(str(row["ballot_id"]) for row in await query(database_url, "SELECT ballot_id FROM norm_adoptions"))
        events = Counter(
            row["ballot"]
            for row in await query(database_url, "SELECT payload->>'ballot_id' AS ballot FROM outbox_events WHERE kind = 'norm.adopted'")
        )
        closes = Counter(
            row["target_id"] for row in await query(database_url, "SELECT target_id FROM audit_events WHERE action = 'ballot.closed'")
        )
        missing = sum(1 for ballot in ballot_ids if adoptions[ballot] == 0)
        extra = sum(max(0, adoptions[b] - 1) + max(0, events[b] - 1) + max(0, closes[b] - 1) for b in ballot_ids)
        notes = [
            f"answers to the raced requests: {dict(sorted(statuses.items()))}",
            f"ballots with one adoption, one norm.adopted event and one ballot.closed record: "
            f"{sum(1 for b in ballot_ids if adoptions[b] == events[b] == closes[b] == 1)} of {ballots}",
        ]
        return Outcome(
            "ballot closing raced from two instances",
            sum(adoptions[b] for b in ballot_ids),
            missing,
            extra,
            seconds,
            f"{ballots} ballots, 4 racing requests each",
            notes,
        )
    finally:
        for server in servers:
            server.kill()
