"""The public audit log: newest first, paginated, filterable, and a hash chain that shows tampering."""

from __future__ import annotations

from itertools import pairwise

from sqlalchemy import text

from services.kit.db import create_engine
from tests.cli import run_cogov


async def _execute(database_url: str, sql: str, **params) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(sql), params)
    finally:
        await engine.dispose()


async def test_log_is_public_newest_first_and_paginated(client, sign_up):
    people = [await sign_up(f"Person {i}") for i in range(5)]
    first = await client.get("/api/v1/audit", params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert [item["payload"]["display_name"] for item in page["items"]] == ["Person 4", "Person 3"]
    assert page["items"][0]["actor"]["display_name"] == "Person 4"

    seen = [item["seq"] for item in page["items"]]
    cursor = page["next_cursor"]
    while cursor:
        page = (await client.get("/api/v1/audit", params={"limit": 2, "cursor": cursor})).json()
        seen += [item["seq"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [5, 4, 3, 2, 1]

    only = await client.get("/api/v1/audit", params={"target_type": "participant", "target_id": people[1]["id"]})
    assert [item["payload"]["display_name"] for item in only.json()["items"]] == ["Person 1"]


async def test_each_event_links_to_the_one_before(client, sign_up):
    for _ in range(3):
        await sign_up()
    items = (await client.get("/api/v1/audit")).json()["items"]
    assert items[-1]["prev_hash"] == "0" * 64
    for newer, older in pairwise(items):
        assert newer["prev_hash"] == older["hash"]


async def test_forged_cursor_is_422(client):
    for cursor in ("not-base64!", "WzEsMl0", "WyJ4Il0"):  # garbage, two values, a string
        response = await client.get("/api/v1/audit", params={"cursor": cursor})
        assert response.status_code == 422, cursor
        assert response.json()["code"] == "invalid_cursor"


async def test_cogov_audit_verify_passes_an_intact_chain_and_fails_a_tampered_one(client, sign_up, database_url):
    for name in ("Ana", "Bo", "Chen"):
        await sign_up(name)
    intact = run_cogov("audit", "verify", database_url=database_url)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 3 events" in intact.stdout

    await _execute(database_url, "UPDATE audit_events SET payload = :payload WHERE seq = 2", payload='{"display_name": "Mallory"}')
    tampered = run_cogov("audit", "verify", database_url=database_url)
    assert tampered.returncode == 1
    assert "event 2" in tampered.stderr and "altered" in tampered.stderr


async def test_removing_an_event_breaks_the_chain(client, sign_up, database_url):
    for name in ("Ana", "Bo", "Chen"):
        await sign_up(name)
    await _execute(database_url, "DELETE FROM audit_events WHERE seq = 2")
    result = run_cogov("audit", "verify", database_url=database_url)
    assert result.returncode == 1
    assert "event 3" in result.stderr and "missing" in result.stderr
