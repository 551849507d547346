"""A real JS Automerge peer (``@automerge/automerge``, see package.json) for tests.

Runs ``node tests/js/peer.mjs``; needs Node.js and ``npm ci`` at the repository root.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "tests" / "js" / "peer.mjs"
PACKAGE = ROOT / "node_modules" / "@automerge" / "automerge" / "package.json"
TIMEOUT_SECONDS = 60


class JsPeerUnavailable(RuntimeError):
    """Node.js or the npm packages the JS peer needs are missing."""


class JsPeerFailed(RuntimeError):
    """The JS peer ran and failed."""


def js_available() -> bool:
    """Whether Node.js and the npm packages are installed."""
    return shutil.which("node") is not None and PACKAGE.is_file()


def need_js_peer() -> None:
    """Skip the calling test without the JS peer (fail under COGOV_REQUIRE_SERVICES=1)."""
    if not js_available():
        from tests.fixtures.environment import service_unavailable

        service_unavailable("Node.js with npm packages (run npm ci)")


def js_edit(saved: bytes, actor: bytes, index: int, delete: int, text: str) -> bytes:
    """The change(s) JS makes as ``actor`` splicing the body of the saved document.

    ``index`` and ``delete`` count code points, like ``norms.document.apply_splices``.
    """
    with tempfile.TemporaryDirectory(prefix="cogov-js-") as tmp:
        doc, out = Path(tmp, "in.automerge"), Path(tmp, "out.changes")
        doc.write_bytes(saved)
        _run("edit", str(doc), str(out), actor.hex(), str(index), str(delete), text)
        return out.read_bytes()


def js_create(title: str, text: str) -> bytes:
    """A new document {title, body} made and saved by JS."""
    with tempfile.TemporaryDirectory(prefix="cogov-js-") as tmp:
        out = Path(tmp, "new.automerge")
        _run("create", str(out), title, text)
        return out.read_bytes()


def _run(*args: str) -> None:
    node = shutil.which("node")
    if node is None:
        raise JsPeerUnavailable("Node.js is not installed (no `node` on PATH)")
    if not PACKAGE.is_file():
        raise JsPeerUnavailable(f"npm packages missing: run `npm ci` in {ROOT}")
    done = subprocess.run([node, str(PEER), *args], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise JsPeerFailed(f"peer.mjs {args[0]} exited {done.returncode}: {done.stderr.strip()}")
