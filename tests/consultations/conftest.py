"""Consultation fixtures: the ballot tests' active council (norm tagged v1), its clock, and an open consultation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.clearinghouse.conftest import adopt, council, published, settings, staff, worker  # noqa: F401
from tests.norms.conftest import clock, make_council  # noqa: F401

TEXT = "Platforms publish their ranking criteria."


async def affiliate(client, person: dict, group: str = "government", country: str = "FR", organisation: str | None = "Ministry") -> dict:
    response = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": group, "country": country, "organisation": organisation},
        headers=person["headers"],
    )
    assert response.status_code == 200, response.text
    return person


@pytest.fixture
async def consultation(client, council, clock) -> dict:  # noqa: F811
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Is this clear enough?"},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    return opened.json()
