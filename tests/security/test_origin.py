"""The sync socket refuses browsers from other origins (the handshake fails with 403, before any
ticket is spent); same-origin, configured origins and clients sending no Origin are served. Origins
are compared by scheme, host and port, default ports normalised."""

from __future__ import annotations

import pytest
import websockets

from services.realtime.client import SyncClient
from tests.fixtures.databases import ON_SQLITE

pytestmark = ON_SQLITE

EDITOR = "https://editor.example.org"
SETTINGS = {"allowed_origins": EDITOR, "base_url": "https://cogov.example.org"}


async def test_foreign_origins_are_refused_before_the_ticket_is_spent(network, norm, live, ticket_for):
    amina = network["members"][0]
    ticket = await ticket_for(amina)
    port = live.split(":")[2].split("/")[0]
    refused = (
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
        f"{EDITOR}.evil.example",
        "https://cogov.example.org:444",
        # The socket's own host and port under another scheme, the base URL's host over plain http.
        f"https://127.0.0.1:{port}",
        "http://cogov.example.org",
        "http://cogov.example.org:443",
        "https://cogov.example.org/elsewhere",
    )
    for origin in refused:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await SyncClient.connect(live, ticket=ticket, origin=origin)
        assert refused.value.response.status_code == 403, origin
    # Served: no Origin (not a browser), the socket's own host, the base URL and the configured editor.
    served = (
        None,
        f"http://127.0.0.1:{port}",
        "https://cogov.example.org",
        "https://cogov.example.org:443",
        EDITOR,
        EDITOR.upper(),
        f"{EDITOR}:443/",
    )
    for origin in served:
        peer = await SyncClient.connect(live, ticket=ticket if origin is None else None, origin=origin)
        handle = await peer.open(norm["url"])
        assert handle.text == "Platforms publish their ranking criteria."
        await peer.close()
