"""Ed25519 signatures over adoption records, and their offline verification.

A record is signed as canonical JSON: keys sorted, no whitespace, UTF-8 (for the records the
clearing house writes, which hold only strings, integers, booleans, lists and objects, this is
the RFC 8785 form too). Keys are named by their RFC 7638 JWK thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.settings import SettingsError

KEY_FILE = "publication-ed25519.pem"
ALGORITHM = "EdDSA"


class PublicationKeyInvalid(SettingsError):
    """The configured publication key cannot be used."""


def canonical_json(value: object) -> bytes:
    """The bytes a signature covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk(public_key: str) -> dict:
    """The JWK of a raw Ed25519 public key given as base64url, with its thumbprint as `kid`."""
    return {"kty": "OKP", "crv": "Ed25519", "x": public_key, "kid": thumbprint(public_key), "alg": ALGORITHM, "use": "sig"}


def thumbprint(public_key: str) -> str:
    """RFC 7638: SHA-256 of the key's required members in canonical order."""
    required = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": public_key}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(required.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return b64url(raw)

    @property
    def kid(self) -> str:
        return thumbprint(self.public_key)

    def sign(self, record: dict) -> str:
        return b64url(self.private.sign(canonical_json(record)))


def parse_private_key(value: str, source: str = "COGOV_PUBLICATION_KEY") -> SigningKey:
    """A key from PEM (PKCS#8) text or the base64url of its 32-byte seed."""
    value = value.strip()
    try:
        if value.startswith("-----BEGIN"):
            private = serialization.load_pem_private_key(value.encode(), password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise PublicationKeyInvalid(f"{source} is not an Ed25519 key")
            return SigningKey(private)
        seed = unb64url(value)
    except (ValueError, TypeError) as exc:
        raise PublicationKeyInvalid(f"{source} is neither PEM nor the base64url of a 32-byte seed: {exc}") from exc
    if len(seed) != 32:
        raise PublicationKeyInvalid(f"{source} holds {len(seed)} bytes; an Ed25519 seed has 32")
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def load_or_create(path: Path) -> SigningKey:
    """The key in `path`, created (mode 0600) on first use; safe when several processes start at once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            # O_EXCL: of two processes creating it at once, one writes and both then read the same key.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
    return parse_private_key(path.read_text(), str(path))


class VerificationFailed(Exception):
    """The entry is not what the clearing house signed; the message says what does not hold."""


def verify_signature(statement: dict, signature: dict, keys: dict, what: str) -> str:
    """Check `signature` ({"kid", "value"}) over the canonical JSON of `statement` against a JWK set; the kid,
    or VerificationFailed naming `what` was signed."""
    try:
        kid, value = signature["kid"], signature["value"]
    except (KeyError, TypeError) as exc:
        raise VerificationFailed(f"not a clearing-house signature: missing {exc}") from exc
    key = next((k for k in keys.get("keys", []) if k.get("kid") == kid), None)
    if key is None:
        raise VerificationFailed(f"key {kid} is not in the key set")
    if (key.get("kty"), key.get("crv")) != ("OKP", "Ed25519") or thumbprint(key.get("x", "")) != kid:
        raise VerificationFailed(f"key {kid} in the key set is not the Ed25519 key its id names")
    try:
        Ed25519PublicKey.from_public_bytes(unb64url(key["x"])).verify(unb64url(value), canonical_json(statement))
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise VerificationFailed(f"the signature does not match {what}") from exc
    return kid


# Where an issuer publishes its key set.
KEYS_PATH = "/.well-known/cogov-keys.json"


@dataclass(frozen=True)
class Verified:
    """What a verified entry proves: the key that signed it, the issuer its signed record names, and the
    top-level fields that are not covered by the signature (so a reader knows not to rely on them)."""

    kid: str
    issuer: str
    unsigned: tuple[str, ...]


def issuer_keys_url(record: dict) -> str:
    """The key set of the record's issuer: the only keys a verifier trusts without being given some."""
    issuer = record.get("issuer") if isinstance(record, dict) else None
    if not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")):
        raise VerificationFailed("the signed record names no issuer address: pass the clearing house's key set with --keys")
    return issuer.rstrip("/") + KEYS_PATH


def _parts(document: dict) -> tuple[dict, dict, dict]:
    """The record, the signature and the other top-level fields of an entry (REST) or a JSON Feed item."""
    if not isinstance(document, dict):
        raise VerificationFailed("not a clearing-house entry: not a JSON object")
    if "_cogov" in document:  # a JSON Feed item: the signed parts are in its `_cogov` member
        extension = document["_cogov"]
        if not isinstance(extension, dict):
            raise VerificationFailed("not a clearing-house JSON Feed item: _cogov is not an object")
        fields = {name: value for name, value in document.items() if name != "_cogov"}
        fields |= {name: value for name, value in extension.items() if name not in ("record", "signature")}
        holder = extension
    else:
        fields = {name: value for name, value in document.items() if name not in ("record", "signature")}
        holder = document
    try:
        record, signature = holder["record"], holder["signature"]
    except KeyError as exc:
        raise VerificationFailed(f"not a clearing-house entry: missing {exc}") from exc
    if not isinstance(record, dict):
        raise VerificationFailed("not a clearing-house entry: the record is not an object")
    return record, signature, fields


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _signed_values(record: dict) -> dict[str, object]:
    """What each top-level field of an entry or a JSON Feed item must say, as the signed record says it."""
    network: dict = record["network"] if isinstance(record.get("network"), dict) else {}
    norm: dict = record["norm"] if isinstance(record.get("norm"), dict) else {}
    issuer = str(record.get("issuer", "")).rstrip("/")
    permalink = f"{issuer}/clearinghouse/{network.get('slug')}/{norm.get('slug')}/v{record.get('version')}"
    return {
        "urn": record.get("urn"),
        "id": record.get("urn"),  # a JSON Feed item's id is the URN
        "title": record.get("title"),
        "version": record.get("version"),
        "norm_slug": norm.get("slug"),
        "norm_id": norm.get("id"),
        "adopted_at": _moment(record.get("adopted_at")),
        "date_published": _moment(record.get("adopted_at")),
        "permalink": permalink,
        "url": permalink,
        "keys_url": issuer + KEYS_PATH,
        "network": network,
        "authors": network.get("name"),
    }


def _claimed(name: str, value: object) -> object:
    """A field's value in the form `_signed_values` gives it."""
    if name in ("adopted_at", "date_published"):
        return _moment(value)
    if name == "network" and isinstance(value, dict):
        return {key: value.get(key) for key in ("slug", "name")}
    if name == "authors" and isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0].get("name")
    return value


def check_entry(document: dict, keys: dict) -> Verified:
    """Check a published entry, or one item of a JSON Feed, offline against a JWK set; VerificationFailed otherwise.

    Holds when the record's signature verifies under the named key, the text is the one the record's SHA-256
    names, and every top-level field that states something the record states (URN, title, version, network,
    norm, adoption time, permalink, key set address) says what the record says. Fields the signature does not
    cover are named in `unsigned`.
    """
    record, signature, fields = _parts(document)
    kid = verify_signature(record, signature, keys, "the adoption record")
    text_field = "content_text" if "content_text" in fields else "text"
    text = fields.pop(text_field, None)
    if not isinstance(text, str):
        raise VerificationFailed(f"the entry carries no text ({text_field}) to check against the record")
    try:
        encoded = text.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate (a JSON escape can carry one): no UTF-8 to hash
        raise VerificationFailed(f"the text is not the one the record names: it holds a lone surrogate at index {exc.start}") from exc
    if hashlib.sha256(encoded).hexdigest() != record.get("text_sha256"):
        raise VerificationFailed("the text is not the one the record's text_sha256 names")
    signed = _signed_values(record)
    if "network" in fields and isinstance(fields["network"], str):  # a JSON Feed item names the network by slug
        signed["network"] = signed["network"].get("slug") if isinstance(signed["network"], dict) else None
    unsigned = []
    for name, value in fields.items():
        if name == "id" and text_field == "text":
            unsigned.append(name)  # a REST entry's id is its row's, not the URN
        elif name in signed:
            if _claimed(name, value) != signed[name]:
                raise VerificationFailed(f"the entry's {name} differs from the signed record's")
        else:
            unsigned.append(name)
    return Verified(kid=kid, issuer=str(record.get("issuer", "")), unsigned=tuple(sorted(unsigned)))


def verify_entry(entry: dict, keys: dict) -> str:
    """`check_entry`, answering the kid that signed the entry."""
    return check_entry(entry, keys).kid


def configured_key(publication_key: str | None, data_dir: Path) -> SigningKey:
    """COGOV_PUBLICATION_KEY when set, else the key file in the data directory (created on first start)."""
    if publication_key:
        return parse_private_key(publication_key)
    return load_or_create(data_dir / KEY_FILE)
