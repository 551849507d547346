"""Signed adoption records: the key, canonical JSON, and offline verification that fails on any changed byte."""

from __future__ import annotations

import copy
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from services.clearinghouse import signing
from services.clearinghouse.signing import VerificationFailed
from services.settings import SettingsError


def test_canonical_json_sorts_keys_without_spaces_in_utf8():
    assert signing.canonical_json({"b": [1, {"z": True, "a": None}], "a": "é"}) == '{"a":"é","b":[1,{"a":null,"z":true}]}'.encode()


def test_the_key_is_generated_once_into_the_data_dir_and_kept_private(tmp_path):
    first = signing.configured_key(None, tmp_path)
    path = tmp_path / signing.KEY_FILE
    assert path.stat().st_mode & 0o077 == 0
    assert signing.configured_key(None, tmp_path).kid == first.kid
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_the_key_can_come_from_settings_as_pem_or_seed(tmp_path):
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    seed = signing.b64url(private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()))
    assert signing.configured_key(pem, tmp_path).kid == signing.configured_key(seed, tmp_path).kid
    assert not (tmp_path / signing.KEY_FILE).exists()
    for bad in ("not a key", signing.b64url(b"short"), "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----"):
        with pytest.raises(SettingsError, match="COGOV_PUBLICATION_KEY"):
            signing.configured_key(bad, tmp_path)


def test_the_kid_is_the_rfc_7638_thumbprint():
    # RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
    assert signing.thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo") == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def _signed_entry(key: signing.SigningKey, text: str = "Platforms publish their ranking criteria.") -> tuple[dict, dict]:
    import hashlib

    record = {
        "urn": "urn:cogov:norm:n:m:v1",
        "title": "T",
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "version": 1,
        "votes": [{"name": "Amina"}],
    }
    entry = {
        "urn": record["urn"],
        "title": "T",
        "text": text,
        "record": record,
        "signature": {"alg": "EdDSA", "kid": key.kid, "value": key.sign(record)},
    }
    return entry, {"keys": [signing.jwk(key.public_key)]}


def test_a_signed_entry_verifies_and_any_change_fails():
    key = signing.SigningKey(Ed25519PrivateKey.generate())
    entry, keys = _signed_entry(key)
    assert signing.verify_entry(entry, keys) == key.kid
    # Survives a trip through a JSON file, as a subscriber stores it.
    assert signing.verify_entry(json.loads(json.dumps(entry, indent=2)), keys) == key.kid

    changed_text = copy.deepcopy(entry)
    changed_text["text"] = changed_text["text"].replace("publish", "publisH")
    with pytest.raises(VerificationFailed, match="text"):
        signing.verify_entry(changed_text, keys)
    changed_record = copy.deepcopy(entry)
    changed_record["record"]["votes"][0]["name"] = "Amine"
    with pytest.raises(VerificationFailed, match="signature"):
        signing.verify_entry(changed_record, keys)
    changed_title = copy.deepcopy(entry)
    changed_title["title"] = "X"
    with pytest.raises(VerificationFailed, match="title"):
        signing.verify_entry(changed_title, keys)
    other = signing.SigningKey(Ed25519PrivateKey.generate())
    with pytest.raises(VerificationFailed, match="not in the key set"):
        signing.verify_entry(entry, {"keys": [signing.jwk(other.public_key)]})
    impostor = {"keys": [signing.jwk(other.public_key) | {"kid": key.kid}]}
    with pytest.raises(VerificationFailed, match="not the Ed25519 key its id names"):
        signing.verify_entry(entry, impostor)
    with pytest.raises(VerificationFailed, match="not a clearing-house entry"):
        signing.verify_entry({"text": "x"}, keys)


def test_a_text_holding_a_lone_surrogate_fails_verification_with_its_reason():
    # JSON can carry one as an escape ("\\ud800"), and it has no UTF-8 to hash.
    key = signing.SigningKey(Ed25519PrivateKey.generate())
    entry, keys = _signed_entry(key, "Article 1")
    entry["text"] = "Article \ud800"
    with pytest.raises(VerificationFailed, match="a lone surrogate at index 8"):
        signing.verify_entry(json.loads(json.dumps(entry)), keys)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_flipping_any_one_character_of_text_or_record_fails(data):
    key = signing.SigningKey(Ed25519PrivateKey.generate())
    entry, keys = _signed_entry(key, data.draw(st.text(min_size=1, max_size=60)))
    where = data.draw(st.sampled_from(["text", "record"]))
    if where == "text":
        original = entry["text"]
        index = data.draw(st.integers(0, len(original) - 1))
        replacement = data.draw(st.characters().filter(lambda c: c != original[index]))
        entry["text"] = original[:index] + replacement + original[index + 1 :]
    else:
        raw = signing.canonical_json(entry["record"]).decode()
        index = data.draw(st.integers(0, len(raw) - 1))
        replacement = data.draw(st.characters(min_codepoint=32, max_codepoint=126).filter(lambda c: c != raw[index]))
        try:
            entry["record"] = json.loads(raw[:index] + replacement + raw[index + 1 :])
        except ValueError:
            return  # no longer JSON: nothing a verifier could even read
        if signing.canonical_json(entry["record"]) == signing.canonical_json(json.loads(raw)):
            return  # e.g. whitespace the canonical form drops again
    with pytest.raises(VerificationFailed):
        signing.verify_entry(entry, keys)


def test_every_field_beside_the_record_must_say_what_the_record_says():
    key = signing.SigningKey(Ed25519PrivateKey.generate())
    entry, keys = _signed_entry(key)
    entry["record"] |= {"issuer": "https://clearing.example", "network": {"slug": "n", "name": "N"}, "norm": {"id": "x", "slug": "m"}}
    entry["signature"]["value"] = key.sign(entry["record"])
    entry |= {"id": "row-id", "version": 1, "network": {"slug": "n", "name": "N", "url": "https://clearing.example/networks/n"}}
    entry |= {"permalink": "https://clearing.example/clearinghouse/n/m/v1", "curation": {}, "superseded_by": None}
    verified = signing.check_entry(entry, keys)
    assert (verified.kid, verified.issuer) == (key.kid, "https://clearing.example")
    assert verified.unsigned == ("curation", "id", "superseded_by")
    forgeries = [("urn", "urn:cogov:norm:n:m:v2"), ("version", 2), ("network", {"slug": "n", "name": "Other"}), ("norm_slug", "z")]
    for field, forged in forgeries:
        with pytest.raises(VerificationFailed, match=f"the entry's {field} differs"):
            signing.check_entry(entry | {field: forged}, keys)

    item = {
        "id": entry["urn"],
        "url": entry["permalink"],
        "title": "T",
        "content_text": entry["text"],
        "authors": [{"name": "N"}],
        "_cogov": {"network": "n", "version": 1, "record": entry["record"], "signature": entry["signature"], "featured": False},
    }
    assert signing.check_entry(item, keys).unsigned == ("featured",)
    with pytest.raises(VerificationFailed, match="the entry's id differs"):
        signing.check_entry(item | {"id": "urn:cogov:norm:n:other:v1"}, keys)
    with pytest.raises(VerificationFailed, match="the entry's network differs"):
        signing.check_entry(item | {"_cogov": item["_cogov"] | {"network": "other"}}, keys)
    with pytest.raises(VerificationFailed, match="text"):
        signing.check_entry(item | {"content_text": "Other."}, keys)
