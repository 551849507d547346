"""Logs: one JSON object per line in production, readable lines in development, and every line written while
a request is served carries its request id, whichever library wrote it."""

from __future__ import annotations

import json
import logging

import httpx
import structlog
import websockets

from services.kit import logging as kit_logging
from tests.fixtures.databases import ON_SQLITE
from tests.realtime.servers import CogovServer

pytestmark = ON_SQLITE


async def test_a_production_server_writes_json_lines_with_the_request_id_of_each_request(database_url, tmp_path):
    server = CogovServer(database_url, tmp_path)
    server.env |= {"COGOV_LOG_JSON": "true", "COGOV_LOG_LEVEL": "info"}
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            found = await http.get("/api/v1/networks", headers={"X-Request-ID": "ops-list-1"})
            missing = await http.get("/api/v1/networks/no-such-network", headers={"X-Request-ID": "ops-missing-2"})
            invalid = await http.post("/api/v1/auth/register", content=b"{not json", headers={"X-Request-ID": "ops-bad-3"})
            hostile = await http.get("/healthz", headers={"X-Request-ID": "x" * 500})
            # Through a proxy on this host (trusted by default): the client is the one the proxy names.
            await http.get("/healthz", headers={"X-Request-ID": "ops-proxied-5", "X-Forwarded-For": "203.0.113.5"})
        assert (found.status_code, missing.status_code, invalid.status_code) == (200, 404, 422)
        assert found.headers["x-request-id"] == "ops-list-1"
        generated = hostile.headers["x-request-id"]
        assert len(generated) == 32 and generated != "x" * 500
        # A sync socket sent a malformed frame: its closing is logged under the socket's request id.
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/api/v1/sync", additional_headers={"X-Request-ID": "ops-socket-4"}
        ) as socket:
            await socket.send(b"\xff\x00 not cbor")
            try:
                await socket.recv()
            except websockets.ConnectionClosed:
                pass
    finally:
        server.stop()
    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON, uvicorn's own included
    assert any(record.get("logger", "").startswith("uvicorn") for record in records)
    assert not any("color_message" in record for record in records)
    by_id = {}
    for record in records:
        by_id.setdefault(record.get("request_id"), []).append(record)
    for request_id, route, status in [
        ("ops-list-1", "/api/v1/networks", 200),
        ("ops-missing-2", "/api/v1/networks/{slug}", 404),
        ("ops-bad-3", "/api/v1/auth/register", 422),
        (generated, "/healthz", 200),
    ]:
        [access] = [record for record in by_id[request_id] if record["event"] == "request"]
        assert (access["route"], access["status"], access["level"]) == (route, status, "info")
        assert isinstance(access["duration_ms"], float) and access["timestamp"].endswith("Z")
    assert "x" * 500 not in server.log.read_text()
    assert [record["client"] for record in by_id["ops-proxied-5"] if record["event"] == "request"] == ["203.0.113.5"]
    assert any(record["event"] == "sync.closing" for record in by_id["ops-socket-4"])


async def test_development_logs_are_readable_lines_with_the_request_id(app, client, capfd):
    kit_logging.configure("info", json=False)
    capfd.readouterr()
    response = await client.get("/api/v1/networks", headers={"X-Request-ID": "dev-request-7"})
    assert response.status_code == 200
    structlog.contextvars.bind_contextvars(request_id="dev-request-8")  # as the middleware does for each request
    logging.getLogger("some.library").warning("a library line")
    structlog.contextvars.clear_contextvars()
    err = capfd.readouterr().err
    [access] = [line for line in err.splitlines() if "dev-request-7" in line and "[cogov.access]" in line]
    assert not access.startswith("{") and "request" in access and "route=/api/v1/networks" in access and "status=200" in access
    [library] = [line for line in err.splitlines() if "a library line" in line]
    assert "request_id=dev-request-8" in library and "[some.library]" in library


async def test_a_sync_ticket_never_reaches_the_log_in_full(database_url, tmp_path):
    server = CogovServer(database_url, tmp_path)
    server.env |= {"COGOV_LOG_JSON": "true", "COGOV_LOG_LEVEL": "info"}
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            account = {"email": "ticket-holder@example.org", "password": "a long enough password 1", "display_name": "Tia"}
            assert (await http.post("/api/v1/auth/register", json=account)).status_code == 202
            token = await http.post("/api/v1/auth/token", data={"username": account["email"], "password": account["password"]})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            tickets = [(await http.post("/api/v1/sync/tickets", headers=headers)).json()["ticket"] for _ in range(2)]
        async with websockets.connect(f"{server.sync_url}?ticket={tickets[0]}") as socket:
            await socket.close()
        # A refused connection (the ticket spent) is logged too.
        try:
            async with websockets.connect(f"{server.sync_url}?ticket={tickets[0]}&access_token={tickets[1]}"):
                pass
        except websockets.InvalidStatus:
            pass
    finally:
        server.stop()
    log = server.log.read_text()
    assert "WebSocket /api/v1/sync?ticket=[redacted]" in log
    assert "access_token=[redacted]" in log
    assert tickets[0] not in log and tickets[1] not in log
