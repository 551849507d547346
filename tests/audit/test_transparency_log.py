"""The audit log as a transparency log: signed tree heads, inclusion and consistency proofs (RFC 9162 2.1), and a
saved checkpoint that catches a truncated log, or one rewritten with every later hash recomputed, through the CLI
and through the API.

Proofs are checked by the verifier below, written from the RFC's text; it does not import CoGov's Merkle code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

import migrations
from services.audit import merkle
from services.audit import service as audit
from services.audit.models import AuditEvent, AuditTreeNode, TreeHead
from services.kit.db import (
    create_engine,
    create_sessionmaker,
    take_write_lock,
    transaction,
)
from tests.cli import run_cogov
from tests.fixtures.databases import POSTGRES_URL, create_postgres_database, drop_postgres_database
from tests.fixtures.environment import service_unavailable

# --- RFC 9162 section 2.1, independently ---------------------------------------------------


def rfc_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_leaf_hash(leaf: bytes) -> bytes:
    return rfc_hash(b"\x00" + leaf)


def rfc_mth(leaf_hashes: list[bytes]) -> bytes:
    """2.1.1: MTH({}) = SHA-256(); MTH({d(0)}) = leaf hash; else split at k, the largest power of two smaller than n."""
    n = len(leaf_hashes)
    if n == 0:
        return rfc_hash(b"")
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return rfc_hash(b"\x01" + rfc_mth(leaf_hashes[:k]) + rfc_mth(leaf_hashes[k:]))


def rfc_verify_inclusion(leaf_index: int, tree_size: int, leaf_hash: bytes, inclusion_path: list[bytes], root_hash: bytes) -> bool:
    """2.1.3.2, step by step."""
    if leaf_index >= tree_size:  # 1
        return False
    fn, sn = leaf_index, tree_size - 1  # 2
    r = leaf_hash  # 3
    for p in inclusion_path:  # 4
        if sn == 0:  # 4a
            return False
        if fn % 2 == 1 or fn == sn:  # 4b
            r = rfc_hash(b"\x01" + p + r)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            r = rfc_hash(b"\x01" + r + p)
        fn //= 2  # 4c
        sn //= 2
    return sn == 0 and r == root_hash  # 5


def rfc_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes, consistency_path: list[bytes]) -> bool:
    """2.1.4.2, step by step (for first < second)."""
    if not consistency_path:  # 1
        return False
    path = list(consistency_path)
    if first & (first - 1) == 0:  # 2: first is an exact power of 2
        path = [first_hash] + path
    fn, sn = first - 1, second - 1  # 3
    while fn % 2 == 1:  # 4
        fn //= 2
        sn //= 2
    fr = sr = path[0]  # 5
    for c in path[1:]:  # 6
        if sn == 0:  # 6a
            return False
        if fn % 2 == 1 or fn == sn:  # 6b
            fr = rfc_hash(b"\x01" + c + fr)
            sr = rfc_hash(b"\x01" + c + sr)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            sr = rfc_hash(b"\x01" + sr + c)
        fn //= 2  # 6c
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0  # 7


def signature_holds(head: dict, key_set: dict) -> bool:
    """Ed25519 over the statement's canonical JSON (sorted keys, no whitespace, UTF-8), by the key its kid names."""
    [key] = [k for k in key_set["keys"] if k["kid"] == head["signature"]["kid"]]
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key["x"] + "=="))
    signed = json.dumps(head["tree_head"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        public.verify(base64.urlsafe_b64decode(head["signature"]["value"] + "=="), signed)
    except InvalidSignature:
        return False
    return True


def leaf_of(event: dict) -> bytes:
    """The documented leaf bytes: the event as hashed, in canonical JSON."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- Making, signing and tampering with a log ----------------------------------------------


async def append(app, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        async with transaction(app.state.sessionmaker) as session:
            await take_write_lock(session)
            await audit.record(
                session, actor_id=None, action="test.noted", target_type="test", target_id=n, payload={"n": n, "note": "née"}
            )


async def fresh_head(client, app, worker) -> dict:
    """Let an hour pass so the worker signs a new head; the head as the API publishes it."""
    app.state.clock.advance(seconds=app.state.settings.tree_head_seconds)
    assert await worker.sign_tree_head() == 1
    response = await client.get("/api/v1/audit/tree-head")
    assert response.status_code == 200, response.text
    return response.json()


async def leaf_hashes(client, tree_size: int) -> list[bytes]:
    """Every leaf of the tree of `tree_size`, from the events the API serves."""
    found = []
    for seq in range(1, tree_size + 1):
        proof = (await client.get("/api/v1/audit/proofs/inclusion", params={"seq": seq, "tree_size": tree_size})).json()
        found.append(rfc_leaf_hash(leaf_of(proof["leaf"])))
    return found


async def rebuild_tree(app) -> None:
    """What a thorough forger does after changing events: store the Merkle tree of the events as they now are."""
    async with transaction(app.state.sessionmaker) as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
        leaves = [rfc_leaf_hash(audit.leaf_bytes(event)) for event in events]
        await session.execute(delete(AuditTreeNode))
        level = 0
        while (1 << level) <= len(leaves):
            width = 1 << level
            session.add_all(
                AuditTreeNode(level=level, position=position, hash=rfc_mth(leaves[position * width : (position + 1) * width]))
                for position in range(len(leaves) // width)
            )
            level += 1


async def truncate(app, keep: int) -> None:
    """Delete the last events, the heads that covered them, and rebuild the tree: the chain alone stays intact."""
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq > keep))
        await session.execute(delete(TreeHead).where(TreeHead.tree_size > keep))
    await rebuild_tree(app)


async def rewrite(app, seq: int, payload: dict, *, tree: bool = True) -> None:
    """Edit event `seq` and recompute every later chain hash (and, unless told not to, the tree)."""
    async with transaction(app.state.sessionmaker) as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
        events[seq - 1].payload = payload
        previous = events[seq - 2].hash if seq > 1 else audit.GENESIS
        for event in events[seq - 1 :]:
            event.prev_hash = previous
            event.hash = previous = audit.chain_hash(previous, audit.event_body(event))
    if tree:
        await rebuild_tree(app)


def save(tmp_path, head: dict):
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(head), encoding="utf-8")
    return path


# --- Tree heads and proofs through the API -------------------------------------------------


async def test_a_signed_tree_head_commits_to_every_event_and_each_event_proves_its_place(client, app, worker, clock):
    missing = await client.get("/api/v1/audit/tree-head")
    assert missing.status_code == 404 and missing.json()["code"] == "tree_head_not_found"
    await append(app, 7)
    head = await fresh_head(client, app, worker)

    statement = head["tree_head"]
    assert statement["type"] == "cogov.tree-head/1" and statement["tree_size"] == 7
    assert statement["log"] == "http://127.0.0.1:8000/api/v1/audit"
    assert head["keys_url"] == "http://127.0.0.1:8000/.well-known/cogov-keys.json"
    assert signature_holds(head, (await client.get("/.well-known/cogov-keys.json")).json())
    assert (await client.get("/.well-known/cogov-tree-head.json")).json() == head
    assert (await client.get(f"/api/v1/audit/tree-heads/{head['number']}")).json() == head

    root = bytes.fromhex(statement["root_hash"])
    listed = {item["seq"]: item for item in (await client.get("/api/v1/audit")).json()["items"]}
    leaves = []
    for seq in range(1, 8):
        proof = (await client.get("/api/v1/audit/proofs/inclusion", params={"seq": seq, "tree_size": 7})).json()
        event = listed[seq]
        assert datetime.fromisoformat(proof["leaf"]["at"]) == datetime.fromisoformat(event["created_at"])
        assert proof["leaf"] == {
            "seq": seq,
            "at": proof["leaf"]["at"],
            "actor": None,
            "action": event["action"],
            "target_type": event["target_type"],
            "target_id": event["target_id"],
            "payload": event["payload"],
        }
        leaf = rfc_leaf_hash(leaf_of(proof["leaf"]))
        assert proof["leaf_hash"] == leaf.hex() and proof["leaf_index"] == seq - 1
        assert rfc_verify_inclusion(seq - 1, 7, leaf, [bytes.fromhex(p) for p in proof["audit_path"]], root)
        leaves.append(leaf)
    assert rfc_mth(leaves) == root


async def test_every_consistency_and_inclusion_proof_of_a_stored_log_verifies(client, app):
    await append(app, 13)
    leaves = await leaf_hashes(client, 13)
    for second in range(1, 14):
        second_root = rfc_mth(leaves[:second])
        for first in range(1, second + 1):
            answer = (await client.get("/api/v1/audit/proofs/consistency", params={"first": first, "second": second})).json()
            path = [bytes.fromhex(p) for p in answer["consistency_path"]]
            assert answer["first_root_hash"] == rfc_mth(leaves[:first]).hex() and answer["second_root_hash"] == second_root.hex()
            if first == second:
                assert path == []
            else:
                assert rfc_verify_consistency(first, second, rfc_mth(leaves[:first]), second_root, path), (first, second)
        for seq in range(1, second + 1):
            answer = (await client.get("/api/v1/audit/proofs/inclusion", params={"seq": seq, "tree_size": second})).json()
            path = [bytes.fromhex(p) for p in answer["audit_path"]]
            assert rfc_verify_inclusion(seq - 1, second, leaves[seq - 1], path, second_root), (seq, second)
    latest = (await client.get("/api/v1/audit/proofs/consistency", params={"first": 5})).json()
    assert latest["second"] == 13


async def test_sizes_outside_the_log_are_refused_with_the_current_size(client, app):
    await append(app, 4)
    refused = {
        "inclusion of an event past the tree": ("/api/v1/audit/proofs/inclusion", {"seq": 4, "tree_size": 3}),
        "inclusion in a tree larger than the log": ("/api/v1/audit/proofs/inclusion", {"seq": 1, "tree_size": 5}),
        "inclusion in an empty tree": ("/api/v1/audit/proofs/inclusion", {"seq": 1, "tree_size": 0}),
        "consistency to a tree larger than the log": ("/api/v1/audit/proofs/consistency", {"first": 2, "second": 9}),
        "consistency backwards": ("/api/v1/audit/proofs/consistency", {"first": 4, "second": 3}),
        "consistency from nothing": ("/api/v1/audit/proofs/consistency", {"first": 0, "second": 3}),
        "consistency from past the log": ("/api/v1/audit/proofs/consistency", {"first": 6}),
    }
    for what, (path, params) in refused.items():
        response = await client.get(path, params=params)
        assert response.status_code == 422, what
        assert response.json()["code"] == "tree_size_out_of_range", what
        assert "4" in response.json()["detail"] and response.json()["tree_size"] == 4, what
    assert (await client.get("/api/v1/audit/proofs/inclusion", params={"seq": 0})).status_code == 422
    unknown = await client.get("/api/v1/audit/tree-heads/99")
    assert unknown.status_code == 404 and unknown.json()["code"] == "tree_head_not_found"


# --- Checkpoints: the CLI -------------------------------------------------------------------


async def test_the_cli_proves_a_grown_log_extends_a_checkpoint_and_catches_truncation(
    client, app, worker, clock, database_url, settings, tmp_path
):
    await append(app, 6)
    checkpoint = save(tmp_path, await fresh_head(client, app, worker))
    await append(app, 2, start=6)
    grown = run_cogov("audit", "verify", "--against", str(checkpoint), database_url=database_url, data_dir=str(settings.data_dir))
    assert grown.returncode == 0, grown.stderr
    assert "its 6 events are the first of today's 8" in grown.stdout

    await truncate(app, keep=4)
    alone = run_cogov("audit", "verify", database_url=database_url, data_dir=str(settings.data_dir))
    assert alone.returncode == 0 and "intact: 4 events" in alone.stdout  # the chain and tree alone cannot tell
    caught = run_cogov("audit", "verify", "--against", str(checkpoint), database_url=database_url, data_dir=str(settings.data_dir))
    assert caught.returncode == 1
    assert "holds 4 events, fewer than the 6 the checkpoint covers: events 5-6 were removed" in caught.stderr


async def test_the_cli_catches_a_rewrite_with_every_later_hash_recomputed(client, app, worker, clock, database_url, settings, tmp_path):
    await append(app, 6)
    checkpoint = save(tmp_path, await fresh_head(client, app, worker))
    await rewrite(app, 3, {"n": 2, "note": "nothing happened"})
    alone = run_cogov("audit", "verify", database_url=database_url, data_dir=str(settings.data_dir))
    assert alone.returncode == 0 and "intact: 6 events" in alone.stdout
    caught = run_cogov("audit", "verify", "--against", str(checkpoint), database_url=database_url, data_dir=str(settings.data_dir))
    assert caught.returncode == 1
    assert "first 6 events do not hash to the checkpoint's root" in caught.stderr and "altered" in caught.stderr


async def test_the_cli_refuses_a_forged_or_unreadable_checkpoint(client, app, worker, clock, database_url, settings, tmp_path):
    await append(app, 3)
    head = await fresh_head(client, app, worker)
    forged = json.loads(json.dumps(head))
    forged["tree_head"]["tree_size"] = 2
    result = run_cogov(
        "audit", "verify", "--against", str(save(tmp_path, forged)), database_url=database_url, data_dir=str(settings.data_dir)
    )
    assert result.returncode == 1
    assert "signature does not verify" in result.stderr
    (tmp_path / "garbled.json").write_text("{not json")
    garbled = run_cogov(
        "audit", "verify", "--against", str(tmp_path / "garbled.json"), database_url=database_url, data_dir=str(settings.data_dir)
    )
    assert garbled.returncode == 2 and "cannot check the checkpoint" in garbled.stderr


async def test_audit_verify_finds_events_that_disagree_with_the_stored_tree(client, app, database_url, settings):
    await append(app, 5)
    await rewrite(app, 2, {"n": 1, "note": "edited"}, tree=False)  # the chain recomputed, the tree left as it was
    result = run_cogov("audit", "verify", database_url=database_url, data_dir=str(settings.data_dir))
    assert result.returncode == 1
    assert "event 2:" in result.stderr and "leaf in the Merkle tree" in result.stderr
    # A subscriber sees it too: the edited event's leaf no longer proves its place under the served root.
    proof = (await client.get("/api/v1/audit/proofs/inclusion", params={"seq": 2})).json()
    path = [bytes.fromhex(p) for p in proof["audit_path"]]
    assert not rfc_verify_inclusion(1, 5, rfc_leaf_hash(leaf_of(proof["leaf"])), path, bytes.fromhex(proof["root_hash"]))

    async with transaction(app.state.sessionmaker) as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
    removed = run_cogov("audit", "verify", database_url=database_url, data_dir=str(settings.data_dir))
    assert removed.returncode == 1 and "past the last event: events were removed" in removed.stderr


# --- Checkpoints: the API -------------------------------------------------------------------


@pytest.mark.parametrize("tampering", ["truncate", "rewrite"])
async def test_a_subscriber_holding_a_checkpoint_catches_tampering_through_the_api(client, app, worker, clock, tampering):
    await append(app, 6)
    checkpoint = await fresh_head(client, app, worker)
    first, first_root = checkpoint["tree_head"]["tree_size"], bytes.fromhex(checkpoint["tree_head"]["root_hash"])
    await append(app, 2, start=6)
    honest = await fresh_head(client, app, worker)
    answer = (
        await client.get("/api/v1/audit/proofs/consistency", params={"first": first, "second": honest["tree_head"]["tree_size"]})
    ).json()
    assert rfc_verify_consistency(
        first, 8, first_root, bytes.fromhex(honest["tree_head"]["root_hash"]), [bytes.fromhex(p) for p in answer["consistency_path"]]
    )

    if tampering == "truncate":
        await truncate(app, keep=4)
    else:
        await rewrite(app, 3, {"n": 2, "note": "nothing happened"})
    later = await fresh_head(client, app, worker)
    keys = (await client.get("/.well-known/cogov-keys.json")).json()
    assert signature_holds(later, keys)  # the server signs what it now holds, and the subscriber asks it to prove growth
    second = later["tree_head"]["tree_size"]
    response = await client.get("/api/v1/audit/proofs/consistency", params={"first": first, "second": second})
    if tampering == "truncate":
        assert second == 4
        assert response.status_code == 422 and response.json()["code"] == "tree_size_out_of_range"
    else:
        path = [bytes.fromhex(p) for p in response.json()["consistency_path"]]
        assert not rfc_verify_consistency(first, second, first_root, bytes.fromhex(later["tree_head"]["root_hash"]), path)
    if tampering == "rewrite":  # and the server still shows the head the subscriber saved, as signed
        assert (await client.get(f"/api/v1/audit/tree-heads/{checkpoint['number']}")).json() == checkpoint


# --- Tree heads in the feeds, on adoption and every hour ------------------------------------


async def test_each_adoption_and_each_hour_publish_a_head_in_the_feeds_and_all_stay_on_record(client, app, published, worker, clock):
    on_adoption = (await client.get("/api/v1/audit/tree-head")).json()
    newest_event = (await client.get("/api/v1/audit", params={"limit": 1})).json()["items"][0]
    assert newest_event["action"] == "clearinghouse.published"
    assert on_adoption["tree_head"]["tree_size"] == newest_event["seq"]  # the head covers the publication itself

    async def in_feeds() -> tuple[dict, ElementTree.Element]:
        document = (await client.get("/feeds/norms.json")).json()
        atom = ElementTree.fromstring((await client.get("/feeds/norms.atom")).content)
        return document["_cogov"]["tree_head"], atom.find("{urn:cogov:atom:1}treeHead")

    in_json, in_atom = await in_feeds()
    assert in_json == on_adoption
    statement = {
        name: int(value) if name == "tree_size" else value for name, value in in_atom.attrib.items() if name in on_adoption["tree_head"]
    }
    signature = in_atom.find("{urn:cogov:atom:1}signature")
    from_atom = {"tree_head": statement, "signature": {"kid": signature.get("kid"), "value": signature.text}}
    assert statement == on_adoption["tree_head"] and in_atom.get("href") == on_adoption["url"]
    assert signature_holds(from_atom, (await client.get("/.well-known/cogov-keys.json")).json())

    clock.advance(minutes=59)
    assert await worker.sign_tree_head() == 0  # not yet an hour old
    clock.advance(minutes=1)
    assert await worker.sign_tree_head() == 1
    hourly = (await client.get("/api/v1/audit/tree-head")).json()
    assert hourly["number"] == on_adoption["number"] + 1
    assert (await in_feeds())[0] == hourly

    history = (await client.get("/api/v1/audit/tree-heads", params={"limit": 1})).json()
    assert history["items"] == [hourly]
    older = (await client.get("/api/v1/audit/tree-heads", params={"limit": 1, "cursor": history["next_cursor"]})).json()
    assert older["items"] == [on_adoption]


# --- Concurrent writers and the migration ---------------------------------------------------


async def test_concurrent_writers_keep_one_order_and_one_tree(client, app, database_url, settings):
    async def writer(n: int) -> None:
        async with transaction(app.state.sessionmaker) as session:
            await take_write_lock(session)
            await audit.record(session, actor_id=None, action="test.concurrent", target_type="test", target_id=n, payload={"n": n})

    await asyncio.gather(*(writer(n) for n in range(24)))
    result = run_cogov("audit", "verify", database_url=database_url, data_dir=str(settings.data_dir))
    assert result.returncode == 0, result.stderr
    assert "intact: 24 events" in result.stdout
    proofs = [(await client.get("/api/v1/audit/proofs/inclusion", params={"seq": seq})).json() for seq in range(1, 25)]
    assert sorted(proof["leaf"]["payload"]["n"] for proof in proofs) == list(range(24))  # each writer once, in one order
    leaves = [rfc_leaf_hash(leaf_of(proof["leaf"])) for proof in proofs]
    assert {proof["root_hash"] for proof in proofs} == {rfc_mth(leaves).hex()}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrading_makes_the_events_already_logged_the_leaves_of_the_tree(kind, tmp_path):
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/upgrade.db"
    else:
        try:
            url = create_postgres_database()
        except Exception as exc:
            service_unavailable(f"PostgreSQL at {POSTGRES_URL} ({exc})")

    async def log_events() -> list[tuple]:
        engine = create_engine(url)
        try:
            for n in range(11):
                async with transaction(create_sessionmaker(engine)) as session:
                    await take_write_lock(session)
                    await audit.record(session, actor_id=None, action="test.noted", target_type="test", target_id=n, payload={"n": n})
            return await nodes(engine)
        finally:
            await engine.dispose()

    async def nodes(engine=None) -> list[tuple]:
        own = engine is None
        engine = engine or create_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    select(AuditTreeNode.level, AuditTreeNode.position, AuditTreeNode.hash).order_by(
                        AuditTreeNode.level, AuditTreeNode.position
                    )
                )
                return [(level, position, bytes(value)) for level, position, value in rows]
        finally:
            if own:
                await engine.dispose()

    try:
        migrations.upgrade(url)
        written = asyncio.run(log_events())
        from alembic import command

        command.downgrade(migrations.alembic_config(url), "574b99c67154")  # before the tree existed
        migrations.upgrade(url)
        assert asyncio.run(nodes()) == written
        assert len(written) == 11 + 5 + 2 + 1
    finally:
        if kind == "postgres":
            drop_postgres_database(url)


# --- The rule, for any sizes ----------------------------------------------------------------


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.data())
def test_consistency_and_inclusion_proofs_verify_and_any_changed_leaf_fails(data):
    n = data.draw(st.integers(1, 300), label="n")
    m = data.draw(st.integers(1, n), label="m")
    salt = data.draw(st.binary(max_size=16), label="salt")
    leaves = [salt + i.to_bytes(4, "big") for i in range(n)]
    hashes = [rfc_leaf_hash(leaf) for leaf in leaves]
    first_root, second_root = rfc_mth(hashes[:m]), rfc_mth(hashes)
    tree = merkle.MemoryTree([merkle.leaf_hash(leaf) for leaf in leaves])
    assert tree.root(m) == first_root and tree.root() == second_root

    proof = tree.consistency_proof(m, n)
    if m < n:
        assert rfc_verify_consistency(m, n, first_root, second_root, proof)
    else:
        assert proof == [] and first_root == second_root
    assert merkle.verify_consistency(m, n, first_root, second_root, proof)
    index = data.draw(st.integers(0, n - 1), label="index")
    path = tree.inclusion_proof(index, n)
    assert rfc_verify_inclusion(index, n, hashes[index], path, second_root)
    assert merkle.verify_inclusion(index, n, hashes[index], path, second_root)

    changed = data.draw(st.integers(0, n - 1), label="changed leaf")
    forged = list(leaves)
    forged[changed] += b"!"
    forged_tree = merkle.MemoryTree([merkle.leaf_hash(leaf) for leaf in forged])
    forged_proof, forged_root = forged_tree.consistency_proof(m, n), forged_tree.root()
    # A head of the changed log proves it extends the checkpoint (size m) exactly when the change lies past it.
    extends = rfc_verify_consistency(m, n, first_root, forged_root, forged_proof) if m < n else forged_root == first_root
    assert extends == (changed >= m)
    assert merkle.verify_consistency(m, n, first_root, forged_root, forged_proof) == extends
    assert not rfc_verify_inclusion(changed, n, rfc_leaf_hash(forged[changed]), forged_tree.inclusion_proof(changed, n), second_root)


# --- The monitor's few lines in the docs ----------------------------------------------------

NOTES = Path(__file__).resolve().parents[2] / "docs" / "transparency-log.md"


def monitor_snippet() -> str:
    section = NOTES.read_text().split("## For monitors", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


async def test_the_documented_monitor_accepts_growth_and_refuses_a_rewrite(client, app, worker, clock, tmp_path, monkeypatch, capsys):
    loop = asyncio.get_running_loop()

    def get(url: str, params=None):  # the snippet's httpx.get, answered by the app (the snippet runs in a thread)
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        return asyncio.run_coroutine_threadsafe(client.get(path, params=params), loop).result()

    monkeypatch.setattr(httpx, "get", get)
    monkeypatch.chdir(tmp_path)
    await append(app, 5)
    (tmp_path / "CHECKPOINT.json").write_text(json.dumps(await fresh_head(client, app, worker)))
    await append(app, 3, start=5)
    await fresh_head(client, app, worker)
    await asyncio.to_thread(exec, monitor_snippet(), {})
    assert "grew from 5 to 8 events" in capsys.readouterr().out
    assert json.loads((tmp_path / "CHECKPOINT.json").read_text())["tree_head"]["tree_size"] == 8

    await rewrite(app, 6, {"n": 5, "note": "nothing happened"})
    await fresh_head(client, app, worker)
    with pytest.raises(AssertionError, match="the log was rewritten"):
        await asyncio.to_thread(exec, monitor_snippet(), {})
    await truncate(app, keep=7)
    await fresh_head(client, app, worker)
    with pytest.raises(AssertionError, match="no longer holds the 8 events"):
        await asyncio.to_thread(exec, monitor_snippet(), {})
