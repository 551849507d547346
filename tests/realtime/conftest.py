"""Live sync tests run the app under uvicorn on a free loopback port, in the test's event loop."""

from __future__ import annotations

import asyncio

import pytest
import uvicorn

from services.realtime.client import SyncClient
from tests.norms.conftest import network, norm  # noqa: F401  (fixtures shared with the norm tests)


@pytest.fixture
async def live(app):
    """The app served on 127.0.0.1; yields its ws:// sync address."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/api/v1/sync"
    await app.state.sync_hub.stop()
    server.should_exit = True
    await task


@pytest.fixture
def ticket_for(client):
    """A fresh single-use sync ticket for a participant (as sign_up returns them)."""

    async def make(person: dict) -> str:
        response = await client.post("/api/v1/sync/tickets", headers=person["headers"])
        assert response.status_code == 201, response.text
        return response.json()["ticket"]

    return make


@pytest.fixture
async def connect(live, ticket_for):
    """Connect a Python peer: as `person` (with a ticket) or anonymously; closed after the test."""
    clients: list[SyncClient] = []

    async def make(person: dict | None = None, **options) -> SyncClient:
        ticket = await ticket_for(person) if person is not None else None
        client = await SyncClient.connect(live, ticket=ticket, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
