"""`GET /metrics`: the series an operator watches move as people use CoGov, and who may read them."""

from __future__ import annotations

import asyncio
import re
import uuid

import cbor2
import httpx
import pytest
import websockets
from pydantic import SecretStr

from services.api.app import create_app
from services.settings import SettingsError
from tests.clearinghouse.test_websub import subscribed
from tests.fixtures.clearinghouse import adopt
from tests.fixtures.databases import ON_SQLITE
from tests.fixtures.ops import samples, scrape, value
from tests.realtime.servers import close_of
from tests.realtime.test_hostile_input import _joined

LATENCY = "cogov_http_request_duration_seconds_count"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


async def test_edits_ballot_closes_deliveries_and_request_latency_show_in_metrics(client, make_council, clock, worker, subscriber):
    subscriber.replies = [503]  # the first delivery fails and waits for a retry
    before = await scrape(client)
    council = await make_council()
    await subscribed(client, worker, subscriber.url())
    edited = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/edits",
        json={"splices": [{"index": 0, "delete": 0, "insert": "Large "}]},
        headers=council["convener"]["headers"],
    )
    assert edited.status_code == 200, edited.text
    ballot = await adopt(client, council, clock, version=1)
    await worker.run_once()

    during = await scrape(client)
    assert value(during, "cogov_norm_changes_applied_total") - value(before, "cogov_norm_changes_applied_total") >= 1
    closes = ("cogov_ballots_closed_total", {"reason": "all_voted", "adopted": "true"})
    assert value(during, closes[0], **closes[1]) - value(before, closes[0], **closes[1]) == 1
    assert value(during, "cogov_deliveries", status="pending") == 1
    assert value(during, "cogov_deliveries", status="failed") == 0
    assert value(during, "cogov_database_up") == 1
    failed_attempts = value(during, "cogov_delivery_attempts_total", outcome="not_delivered") - value(
        before, "cogov_delivery_attempts_total", outcome="not_delivered"
    )
    assert failed_attempts == 1
    # Latency by route template: every elector's vote is one series, whatever the ballot's id.
    vote = {"route": "/api/v1/ballots/{ballot_id}/vote", "method": "PUT", "status": "200"}
    assert value(during, LATENCY, **vote) - value(before, LATENCY, **vote) == len(council["members"])
    routes = {dict(labels).get("route") for name, labels in during if name == LATENCY}
    assert ballot["id"] not in " ".join(routes) and not any(UUID.search(route) for route in routes)

    clock.advance(hours=1)
    await worker.deliver_due()
    after = await scrape(client)
    assert value(after, "cogov_deliveries", status="pending") == 0
    assert (
        value(after, "cogov_delivery_attempts_total", outcome="delivered")
        - value(before, "cogov_delivery_attempts_total", outcome="delivered")
        == 1
    )


@ON_SQLITE
async def test_unknown_paths_share_one_series_however_many_are_tried(client):
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get(f"/api/v1/{uuid.uuid4()}/{'x' * 300}")).status_code == 404
    after = await scrape(client)
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(after, LATENCY, **unmatched) - value(before, LATENCY, **unmatched) == 3
    assert not any("x" * 300 in dict(labels).get("route", "") for _name, labels in after)


@ON_SQLITE
async def test_sockets_open_and_documents_resident_follow_live_sync(client, app, norm, connect):
    app.state.norm_store.evict_idle()
    peer = await connect()
    handle = await peer.open(norm["url"])
    assert handle.text.startswith("Platforms")
    assert value(await scrape(client), "cogov_sync_sockets_open") == 1
    # Opened from the database, the document loads when the peer answers.
    for _ in range(100):
        if value(await scrape(client), "cogov_documents_resident") >= 1:
            break
        await asyncio.sleep(0.05)
    assert value(await scrape(client), "cogov_documents_resident") >= 1
    await peer.close()
    for _ in range(100):
        if value(await scrape(client), "cogov_sync_sockets_open") == 0:
            break
        await asyncio.sleep(0.05)
    assert value(await scrape(client), "cogov_sync_sockets_open") == 0


@ON_SQLITE
async def test_without_a_token_metrics_are_served_to_loopback_only_and_never_through_a_proxy(app):
    async def get(client_address: str, **headers: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.get("/metrics", headers=headers)

    assert (await get("127.0.0.1")).status_code == 200
    assert (await get("::1")).status_code == 200
    for address, headers in [
        ("203.0.113.9", {}),
        ("10.0.0.5", {}),
        ("not-an-address", {}),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}),
    ]:
        refused = await get(address, **headers)
        assert refused.status_code == 403, (address, headers)
        assert refused.json()["code"] == "metrics_loopback_only"
        assert "cogov_" not in refused.text


@ON_SQLITE
async def test_with_a_token_metrics_need_it_from_anywhere(settings):
    token = "m" * 16 + uuid.uuid4().hex
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr(token)}))
    try:

        async def get(authorization: str | None, client_address: str = "203.0.113.9") -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
            headers = {"Authorization": authorization} if authorization is not None else {}
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.get("/metrics", headers=headers)

        served = await get(f"Bearer {token}")
        assert served.status_code == 200 and "cogov_http_request_duration_seconds" in served.text
        assert samples(served.text)  # a valid exposition
        for wrong in [None, "", "Bearer", f"Bearer {token[:-1]}", f"Bearer {token}x", f"bearer  {token}", token, "Bearer " + "A" * 100_000]:
            refused = await get(wrong)
            assert refused.status_code == 401, wrong
            assert refused.json()["code"] == "metrics_token_required"
        assert (await get(None, "127.0.0.1")).status_code == 401  # the token is required from loopback too
    finally:
        await app.state.engine.dispose()


@ON_SQLITE
@pytest.mark.parametrize("token", ["short", "changeme", "x" * 31])
def test_a_weak_metrics_token_stops_the_server_from_starting(settings, token):
    with pytest.raises(SettingsError, match="COGOV_METRICS_TOKEN"):
        create_app(settings.model_copy(update={"metrics_token": SecretStr(token)}))


@ON_SQLITE
async def test_a_flooding_sync_socket_is_closed_and_counted(client, live):
    before = value(await scrape(client), "cogov_rate_limited_total", limit="sync_messages")
    socket, server = await _joined(live)
    frame = cbor2.dumps({"type": "doc-unavailable", "senderId": "hostile", "targetId": server, "documentId": "x"})
    try:
        for _ in range(3000):
            await socket.send(frame)
    except websockets.ConnectionClosed:
        pass
    code, reason = await close_of(socket)
    assert code == 1008 and "messages per second" in reason
    assert value(await scrape(client), "cogov_rate_limited_total", limit="sync_messages") - before == 1
