"""A network with three members and one outsider, for norm tests."""

from __future__ import annotations

import pytest

AFFILIATIONS = [
    ("Amina", "civil_society", "KE", "Digital Rights Kenya"),
    ("Bruno", "private_sector", "BR", "Rede Aberta"),
    ("Chen", "technical_academic", "SG", "NUS"),
]


@pytest.fixture
async def network(client, sign_up) -> dict:
    """{"slug", "members": [founder, second, third], "outsider"} — each as sign_up returns them."""
    members = []
    for name, group, country, organisation in AFFILIATIONS:
        person = await sign_up(name)
        response = await client.put(
            "/api/v1/me/affiliation",
            json={"stakeholder_group": group, "country": country, "organisation": organisation},
            headers=person["headers"],
        )
        assert response.status_code == 200, response.text
        members.append(person)
    created = await client.post(
        "/api/v1/networks",
        json={
            "name": "Platform Transparency",
            "issue": "Recommender systems shape public debate without public insight.",
            "aims": "Voluntary transparency norms for large platforms.",
            "intended_outcome": "A norm platforms and regulators can adopt.",
        },
        headers=members[0]["headers"],
    )
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for person in members[1:]:
        joined = await client.post(f"/api/v1/networks/{slug}/join", headers=person["headers"])
        assert joined.status_code in (200, 201), joined.text
    return {"slug": slug, "members": members, "outsider": await sign_up("Olga Outsider")}


@pytest.fixture
async def norm(client, network) -> dict:
    """A norm started by the founder with a short text."""
    response = await client.post(
        f"/api/v1/networks/{network['slug']}/norms",
        json={"title": "Recommender transparency", "text": "Platforms publish their ranking criteria."},
        headers=network["members"][0]["headers"],
    )
    assert response.status_code == 201, response.text
    return response.json()
