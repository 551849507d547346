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


PLACEHOLDER = '"https://clearing.example"'


async def test_the_guide_verification_snippet_works_and_matches_the_help_page(client, published, settings, tmp_path, monkeypatch, capsys):
    entry = (await client.get(f"/api/v1/clearinghouse/entries/{published['entry']['id']}")).json()
    (tmp_path / "cogov-keys.json").write_text(json.dumps((await client.get("/.well-known/cogov-keys.json")).json()))
    monkeypatch.chdir(tmp_path)
    assert PLACEHOLDER in snippet()
    code = snippet().replace(PLACEHOLDER, json.dumps(settings.base_url))

    def run(document: dict) -> None:
        (tmp_path / "ENTRY.json").write_text(json.dumps(document, ensure_ascii=False))
        exec(code, {})

    run(entry)
    assert f"verified: {entry['urn']} issued by {settings.base_url}" in capsys.readouterr().out
    [item] = (await client.get("/feeds/norms.json")).json()["items"]
    run(item)
    assert f"verified: {item['id']}" in capsys.readouterr().out

    altered = json.loads(json.dumps(entry))
    altered["text"] = altered["text"][:-1] + "!"
    with pytest.raises(AssertionError, match="text altered"):
        run(altered)
    altered = json.loads(json.dumps(entry))
    altered["record"]["version"] = 2
    with pytest.raises(InvalidSignature):
        run(altered)
    with pytest.raises(AssertionError, match="urn differs from the signed record"):
        run(entry | {"urn": "urn:cogov:norm:elsewhere:other:v1"})
    with pytest.raises(AssertionError, match="urn differs from the signed record"):
        run(item | {"id": "urn:cogov:norm:elsewhere:other:v1"})
    with pytest.raises(AssertionError, match="issued by https://clearing.attacker.example"):
        run(entry | {"record": entry["record"] | {"issuer": "https://clearing.attacker.example"}})

    page = html.unescape((await client.get("/clearinghouse/subscribe")).text)
    assert code.strip() in page
