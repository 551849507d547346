"""The few lines of Python in the subscribers' guide (docs/subscribers.md) verify a real entry and refuse a
changed one."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "subscribers.md"


def snippet() -> str:
    section = GUIDE.read_text(encoding="utf-8").split("## Verifying an entry", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


async def test_the_guide_verification_snippet_works_and_matches_the_help_page(client, published, tmp_path, monkeypatch, capsys):
    entry = (await client.get(f"/api/v1/clearinghouse/entries/{published['entry']['id']}")).json()
    (tmp_path / "cogov-keys.json").write_text(json.dumps((await client.get("/.well-known/cogov-keys.json")).json()))
    monkeypatch.chdir(tmp_path)
    code = snippet()

    (tmp_path / "ENTRY.json").write_text(json.dumps(entry, ensure_ascii=False))
    exec(code, {})
    assert f"verified: {entry['urn']}" in capsys.readouterr().out

    altered = json.loads(json.dumps(entry))
    altered["text"] = altered["text"][:-1] + "!"
    (tmp_path / "ENTRY.json").write_text(json.dumps(altered))
    with pytest.raises(AssertionError, match="text altered"):
        exec(code, {})
    altered = json.loads(json.dumps(entry))
    altered["record"]["version"] = 2
    (tmp_path / "ENTRY.json").write_text(json.dumps(altered))
    with pytest.raises(InvalidSignature):
        exec(code, {})

    page = html.unescape((await client.get("/clearinghouse/subscribe")).text)
    assert code.strip() in page
