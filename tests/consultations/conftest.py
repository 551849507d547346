"""Consultation tests: the ballot tests' active council (norm tagged v1) with an open consultation; subscribers on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.clearinghouse import LOOPBACK_SUBSCRIBERS


@pytest.fixture
def settings_overrides() -> dict:
    return LOOPBACK_SUBSCRIBERS


@pytest.fixture
async def consultation(client, council, clock) -> dict:
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Is this clear enough?"},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    return opened.json()
