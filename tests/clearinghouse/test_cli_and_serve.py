"""`cogov verify` on a saved entry, `cogov worker` alone, and the worker `cogov serve` runs in the background."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from services.clearinghouse import worker as clearinghouse_worker
from tests.cli import run_cogov
from tests.fixtures.clearinghouse import adopt


@pytest.fixture
async def saved(client, published, tmp_path) -> dict:
    entry = (await client.get(f"/api/v1/clearinghouse/entries/{published['entry']['id']}")).json()
    keys = (await client.get("/.well-known/cogov-keys.json")).json()
    (tmp_path / "ENTRY.json").write_text(json.dumps(entry, indent=2, ensure_ascii=False))
    (tmp_path / "cogov-keys.json").write_text(json.dumps(keys))
    return {"entry": entry, "dir": tmp_path}


def verify(saved: dict, database_url: str, entry: dict | None = None):
    path = saved["dir"] / "ENTRY.json"
    if entry is not None:
        path.write_text(json.dumps(entry, ensure_ascii=False))
    return run_cogov("verify", str(path), "--keys", str(saved["dir"] / "cogov-keys.json"), database_url=database_url)


async def test_cogov_verify_accepts_a_published_entry_and_refuses_one_changed_character(saved, database_url):
    result = verify(saved, database_url)
    assert result.returncode == 0, result.stderr
    assert f"verified: {saved['entry']['urn']}" in result.stdout

    changed = json.loads(json.dumps(saved["entry"]))
    changed["text"] = changed["text"].replace("ranking", "rankinG")
    result = verify(saved, database_url, changed)
    assert result.returncode == 1 and "NOT VERIFIED" in result.stderr and "text" in result.stderr

    changed = json.loads(json.dumps(saved["entry"]))
    changed["record"]["outcome"]["groups"][0]["voted"] += 1
    result = verify(saved, database_url, changed)
    assert result.returncode == 1 and "signature does not match" in result.stderr

    (saved["dir"] / "ENTRY.json").write_text("{not json")
    assert verify(saved, database_url).returncode == 2


async def test_cogov_serve_runs_the_worker_unless_told_not_to(client, app, council, clock, settings):
    settings.worker_poll_seconds = 0.05
    async with app.router.lifespan_context(app):
        assert app.state.clearinghouse.wake is not None
        await adopt(client, council, clock)
        for _ in range(200):
            if (await client.get("/api/v1/clearinghouse/entries")).json()["items"]:
                break
            await asyncio.sleep(0.05)
        [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
        assert entry["version"] == 1
    assert app.state.clearinghouse.wake is None

    settings.worker_in_serve = False
    async with clearinghouse_worker.in_serve(app.state.runtime):
        assert app.state.clearinghouse.wake is None


async def test_cogov_worker_publishes_an_adoption_without_the_web_app(client, council, clock, settings, monkeypatch):
    await adopt(client, council, clock)
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # every module the command imports, listed on stderr
    result = await asyncio.to_thread(run_cogov, "worker", "--once", database_url=settings.database_url, data_dir=str(settings.data_dir))
    assert result.returncode == 0, result.stderr
    # At least the adoption's publication, the verification mails of the council's five sign-ups and the norm's
    # live text indexed for search; the notifications of the ballot and the adoption add their mails.
    done = re.search(r"clearing-house jobs done: (\d+)", result.stdout)
    assert done and int(done[1]) >= 7, result.stdout
    [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    assert entry["version"] == 1
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "services.clearinghouse.worker" in imported
    assert not imported & {"services.api.app", "fastapi", "starlette"}, "the worker loaded the web app"
