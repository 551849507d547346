"""Drafting-stage tests: the ballot tests' active council (norm tagged v1, text TEXT)."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.fixture
def open_consultation(client, council, clock):
    """Open a consultation on v1 of the council's norm (a convener's act); returns it."""

    async def make() -> dict:
        opened = await client.post(
            f"/api/v1/norms/{council['norm']['id']}/consultations",
            json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Is this clear enough?"},
            headers=council["convener"]["headers"],
        )
        assert opened.status_code == 201, opened.text
        return opened.json()

    return make
