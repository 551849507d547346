"""Participants with affiliations, networks founded through the API, and the audit log read back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

NETWORK = {
    "name": "Open Routing Security",
    "issue": "Route hijacks cross borders faster than any one regulator can act.",
    "aims": "A voluntary norm for route origin validation across operators.",
    "intended_outcome": "A norm operators and regulators can adopt as is.",
}


@pytest.fixture
def affiliated(client, sign_up) -> Callable[..., Awaitable[dict]]:
    """Sign up a participant and set their affiliation; returns sign_up's dict plus `affiliation`."""

    async def make(group: str, country: str, *, name: str | None = None, organisation: str | None = None) -> dict:
        participant = await sign_up(name)
        body = {"stakeholder_group": group, "country": country}
        if organisation is not None:
            body["organisation"] = organisation
        response = await client.put("/api/v1/me/affiliation", json=body, headers=participant["headers"])
        assert response.status_code == 200, response.text
        return participant | {"affiliation": response.json()}

    return make


@pytest.fixture
def found(client) -> Callable[..., Awaitable[dict]]:
    """Found a network as `founder` (with any field overridden); returns the created network."""

    async def make(founder: dict, **fields) -> dict:
        response = await client.post("/api/v1/networks", json=NETWORK | fields, headers=founder["headers"])
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def audit_events(client) -> Callable[..., Awaitable[list[dict]]]:
    """Audit events, oldest first, filtered like GET /api/v1/audit."""

    async def read(**filters) -> list[dict]:
        response = await client.get("/api/v1/audit", params={"limit": 200, **filters})
        assert response.status_code == 200, response.text
        return list(reversed(response.json()["items"]))

    return read
