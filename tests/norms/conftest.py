"""A network with three members and one outsider, for norm tests."""

from __future__ import annotations

import uuid

import pytest

AFFILIATIONS = [
    ("Amina", "civil_society", "KE", "Digital Rights Kenya"),
    ("Bruno", "private_sector", "BR", "Rede Aberta"),
    ("Chen", "technical_academic", "SG", "NUS"),
]


def member_id(network: dict, n: int) -> uuid.UUID:
    """The participant id of the network's `n`-th member."""
    return uuid.UUID(network["members"][n]["id"])


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


# Ballots: an ACTIVE network (its charter requires the three groups its members span), a norm
# tagged v1, and a clock the test moves.

COUNCIL = [
    ("Amina", "civil_society", "KE", "Digital Rights Kenya"),  # africa; founder and convener
    ("Bruno", "private_sector", "BR", "Rede Aberta"),  # latin_america_caribbean
    ("Chen", "technical_academic", "SG", "NUS"),  # asia_pacific
    ("Dana", "civil_society", "DE", "EDRi"),  # western_europe_others
]
COUNCIL_CHARTER = {
    "required_groups": ["civil_society", "private_sector", "technical_academic"],
    "min_regions": 3,
    "signoff": {"quorum": "1/2", "threshold": "1/2", "min_ballot_hours": 1},
}


@pytest.fixture
def clock(app):
    """The app's clock, standing still until the test moves it (requests and the app's background jobs read it)."""
    from services.kit.clock import ManualClock

    app.state.clock = app.state.runtime.clock = ManualClock()
    return app.state.clock


@pytest.fixture
def make_council(client, sign_up):
    """Build an active network from (name, group, country, organisation) rows; the first founds and convenes it.

    Returns {"slug", "members", "convener", "norm", "outsider"} with a norm tagged as version 1.
    """

    async def make(rows=COUNCIL, charter=COUNCIL_CHARTER) -> dict:
        members = []
        for name, group, country, organisation in rows:
            person = await sign_up(name)
            response = await client.put(
                "/api/v1/me/affiliation",
                json={"stakeholder_group": group, "country": country, "organisation": organisation},
                headers=person["headers"],
            )
            assert response.status_code == 200, response.text
            members.append(person | {"group": group, "organisation": organisation})
        created = await client.post(
            "/api/v1/networks",
            json={
                "name": "Platform Transparency Council",
                "issue": "Recommender systems shape public debate without public insight.",
                "aims": "Voluntary transparency norms for large platforms.",
                "intended_outcome": "A norm platforms and regulators can adopt.",
                "charter": charter,
            },
            headers=members[0]["headers"],
        )
        assert created.status_code == 201, created.text
        slug = created.json()["slug"]
        for person in members[1:]:
            joined = await client.post(f"/api/v1/networks/{slug}/join", headers=person["headers"])
            assert joined.status_code == 201, joined.text
        assert (await client.get(f"/api/v1/networks/{slug}")).json()["status"] == "active"
        norm = await client.post(
            f"/api/v1/networks/{slug}/norms",
            json={"title": "Recommender transparency", "text": "Platforms publish their ranking criteria."},
            headers=members[0]["headers"],
        )
        assert norm.status_code == 201, norm.text
        tagged = await client.post(f"/api/v1/norms/{norm.json()['id']}/versions", json={"label": "For sign-off"}, headers=members[0]["headers"])
        assert tagged.status_code == 201, tagged.text
        return {"slug": slug, "members": members, "convener": members[0], "norm": norm.json(), "outsider": await sign_up("Olga Outsider")}

    return make


@pytest.fixture
async def council(make_council) -> dict:
    return await make_council()
