"""`cogov verify` trusts only the keys of the issuer the signed record names (or the keys it is given), and
checks every field of an entry or a JSON Feed item against the signed record.

The clearing house is served for real on 127.0.0.1, at the address its records name as issuer, so the
command fetches the issuer's key set over HTTP as it would in use.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.clearinghouse import signing
from tests.cli import run_cogov
from tests.fixtures.app import TestServer
from tests.fixtures.clearinghouse import LOOPBACK_SUBSCRIBERS


@pytest.fixture
def issuer_socket():
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    yield listening
    listening.close()


@pytest.fixture
def settings_overrides(issuer_socket) -> dict:
    return LOOPBACK_SUBSCRIBERS | {"base_url": f"http://127.0.0.1:{issuer_socket.getsockname()[1]}"}


@pytest.fixture
async def issuer(app, issuer_socket):
    """The clearing house answering at its own base URL."""
    server = TestServer(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[issuer_socket]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield app.state.settings.base_url
    server.should_exit = True
    await task


async def cogov_verify(path, database_url, *options: str):
    # In a thread: the clearing house it fetches keys from runs in this test's event loop.
    return await asyncio.to_thread(run_cogov, "verify", str(path), *options, database_url=database_url)


def re_signed(entry: dict, key: signing.SigningKey, **record_changes) -> dict:
    forged = json.loads(json.dumps(entry))
    forged["record"] |= record_changes
    forged["signature"] = {"alg": "EdDSA", "kid": key.kid, "value": key.sign(forged["record"])}
    return forged


@pytest.fixture
def attacker(tmp_path):
    """An attacker's key, and their key set served over HTTP on 127.0.0.1: {"key", "keys_url", "keys_file"}."""
    key = signing.SigningKey(Ed25519PrivateKey.generate())
    folder = tmp_path / "attacker"
    folder.mkdir()
    (folder / "keys.json").write_text(json.dumps({"keys": [signing.jwk(key.public_key)]}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"key": key, "keys_url": f"http://127.0.0.1:{server.server_address[1]}/keys.json", "keys_file": str(folder / "keys.json")}
    server.shutdown()
    server.server_close()


async def test_a_forgery_re_signed_with_an_attackers_key_set_and_keys_url_fails(
    client, published, issuer, attacker, database_url, tmp_path
):
    entry = (await client.get(f"/api/v1/clearinghouse/entries/{published['entry']['id']}")).json()
    text = entry["text"] + " Except for the attacker."
    forged = re_signed(entry, attacker["key"], text_sha256=hashlib.sha256(text.encode()).hexdigest())
    forged["text"] = text
    forged["keys_url"] = attacker["keys_url"]
    path = tmp_path / "ENTRY.json"
    path.write_text(json.dumps(forged))
    result = await cogov_verify(path, database_url)
    assert result.returncode == 1, result.stdout
    assert "NOT VERIFIED" in result.stderr


async def test_verify_says_whose_keys_it_trusted(client, published, issuer, attacker, database_url, tmp_path):
    entry = (await client.get(f"/api/v1/clearinghouse/entries/{published['entry']['id']}")).json()
    path = tmp_path / "ENTRY.json"
    path.write_text(json.dumps(entry, ensure_ascii=False))
    result = await cogov_verify(path, database_url)
    assert result.returncode == 0, result.stderr
    assert f"verified: {entry['urn']} issued by {issuer}" in result.stdout
    assert f"from the issuer's key set at {issuer}/.well-known/cogov-keys.json" in result.stdout
    unsigned = "authentic, authentic_language, curation, entry_url, id, in_force, label, language, published_at, superseded_by"
    assert f"not covered by the signature: {unsigned}, translations" in result.stdout

    # Naming themselves as issuer is said plainly, and refused when the subscriber says whom they expect.
    impostor = "https://clearing.attacker.example"
    forged = re_signed(entry, attacker["key"], issuer=impostor)
    forged["permalink"] = forged["permalink"].replace(issuer, impostor)
    forged["keys_url"] = forged["keys_url"].replace(issuer, impostor)
    path.write_text(json.dumps(forged))
    result = await cogov_verify(path, database_url, "--keys", attacker["keys_file"], "--issuer", issuer)
    assert result.returncode == 1 and f"names the issuer '{impostor}'" in result.stderr
    result = await cogov_verify(path, database_url, "--keys", attacker["keys_file"])
    assert result.returncode == 0 and f"issued by {impostor}" in result.stdout
    assert "from the key set given with --keys" in result.stdout


async def test_verify_refuses_fields_outside_the_record_that_say_something_else(client, published, issuer, database_url, tmp_path):
    entry = (await client.get(f"/api/v1/clearinghouse/entries/{published['entry']['id']}")).json()
    path = tmp_path / "ENTRY.json"
    for field, forged in [
        ("urn", "urn:cogov:norm:other-network:other-norm:v9"),
        ("version", 9),
        ("title", "Another title"),
        ("network", {**entry["network"], "name": "Another network"}),
        ("norm_slug", "another-norm"),
        ("adopted_at", "2020-01-01T00:00:00Z"),
        ("permalink", "https://clearing.attacker.example/clearinghouse/x/y/v1"),
        ("keys_url", "https://clearing.attacker.example/.well-known/cogov-keys.json"),
    ]:
        path.write_text(json.dumps(entry | {field: forged}))
        result = await cogov_verify(path, database_url)
        assert result.returncode == 1, (field, result.stdout)
        assert f"the entry's {field} differs from the signed record's" in result.stderr


async def test_verify_accepts_an_item_of_the_json_feed_and_refuses_it_changed(client, published, issuer, database_url, tmp_path):
    [item] = (await client.get("/feeds/norms.json")).json()["items"]
    path = tmp_path / "ITEM.json"
    path.write_text(json.dumps(item, ensure_ascii=False))
    result = await cogov_verify(path, database_url)
    assert result.returncode == 0, result.stderr
    assert f"verified: {item['id']} issued by {issuer}" in result.stdout
    for field, forged in [("id", "urn:cogov:norm:x:y:v1"), ("content_text", item["content_text"] + "!"), ("url", "https://x.example/")]:
        path.write_text(json.dumps(item | {field: forged}))
        result = await cogov_verify(path, database_url)
        assert result.returncode == 1 and "NOT VERIFIED" in result.stderr, field
    path.write_text(json.dumps(item | {"_cogov": item["_cogov"] | {"version": 7}}))
    result = await cogov_verify(path, database_url)
    assert result.returncode == 1 and "version differs" in result.stderr
