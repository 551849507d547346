"""The taxonomy endpoint and a participant's affiliation, with its history, as a client sees them."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from networks.taxonomy import TaxonomyInvalid
from services.api.app import create_app
from services.settings import Settings
from tests.fixtures.app import TEST_SECRET

GROUPS = ["government", "private_sector", "civil_society", "technical_academic", "intergovernmental"]
REGIONS = ["africa", "asia_pacific", "eastern_europe", "latin_america_caribbean", "western_europe_others"]


async def test_taxonomy_lists_groups_regions_and_countries_with_labels(client):
    response = await client.get("/api/v1/taxonomy")

    assert response.status_code == 200
    body = response.json()
    assert [group["code"] for group in body["groups"]] == GROUPS
    assert body["groups"][3] == {"code": "technical_academic", "label": "Technical and academic community"}
    assert [region["code"] for region in body["regions"]] == REGIONS
    assert {"code": "latin_america_caribbean", "label": "Latin America and the Caribbean"} in body["regions"]
    assert len(body["countries"]) == 249
    assert {"code": "NG", "name": "Nigeria", "region": "africa"} in body["countries"]


async def test_a_deployment_replaces_the_taxonomy_with_a_file(database_url, tmp_path):
    path = tmp_path / "taxonomy.json"
    path.write_text(
        json.dumps(
            {
                "groups": {"state": "State", "market": "Market", "people": "People"},
                "regions": {"north": "North", "south": "South"},
                "countries": {"NO": "north", "ZA": "south"},
            }
        )
    )
    settings = Settings(database_url=database_url, secret_key=TEST_SECRET, data_dir=tmp_path / "var", taxonomy_file=path, _env_file=None)
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            body = (await http.get("/api/v1/taxonomy")).json()
    finally:
        await app.state.engine.dispose()

    assert body["groups"] == [
        {"code": "state", "label": "State"},
        {"code": "market", "label": "Market"},
        {"code": "people", "label": "People"},
    ]
    assert [region["code"] for region in body["regions"]] == ["north", "south"]
    assert body["countries"] == [
        {"code": "NO", "name": "Norway", "region": "north"},
        {"code": "ZA", "name": "South Africa", "region": "south"},
    ]


def test_a_broken_taxonomy_file_stops_the_app_at_start(tmp_path):
    path = tmp_path / "taxonomy.json"
    path.write_text(json.dumps({"groups": {"a": "A"}, "regions": {}, "countries": {}}))
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key=TEST_SECRET, taxonomy_file=path, _env_file=None)
    with pytest.raises(TaxonomyInvalid, match="at least 3 stakeholder groups"):
        create_app(settings)


async def test_set_and_read_affiliation_region_follows_the_country(client, sign_up):
    participant = await sign_up()
    response = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "civil_society", "country": "br", "organisation": "  Instituto Nupef "},
        headers=participant["headers"],
    )

    assert response.status_code == 200
    body = response.json()
    # The name names an organisation record (a new, unverified one here).
    assert uuid.UUID(body["organisation_id"])
    assert body | {"valid_from": None, "organisation_id": None} == {
        "stakeholder_group": "civil_society",
        "stakeholder_group_label": "Civil society",
        "country": "BR",
        "country_name": "Brazil",
        "region": "latin_america_caribbean",
        "region_label": "Latin America and the Caribbean",
        "organisation": "Instituto Nupef",
        "organisation_id": None,
        "valid_from": None,
        "valid_to": None,
        "verification": None,
    }
    again = await client.get("/api/v1/me/affiliation", headers=participant["headers"])
    assert again.status_code == 200
    assert again.json() == body


async def test_organisation_is_optional(client, sign_up):
    participant = await sign_up()
    response = await client.put(
        "/api/v1/me/affiliation", json={"stakeholder_group": "government", "country": "JP"}, headers=participant["headers"]
    )
    assert response.status_code == 200
    assert response.json()["organisation"] is None
    assert response.json()["region"] == "asia_pacific"


async def test_reading_an_affiliation_never_set_is_404_saying_how_to_set_one(client, sign_up):
    participant = await sign_up()
    response = await client.get("/api/v1/me/affiliation", headers=participant["headers"])

    assert response.status_code == 404
    assert response.json()["code"] == "affiliation_not_set"
    assert "PUT /api/v1/me/affiliation" in response.json()["detail"]


async def test_affiliation_needs_authentication(client):
    assert (await client.get("/api/v1/me/affiliation")).status_code == 401
    response = await client.put("/api/v1/me/affiliation", json={"stakeholder_group": "government", "country": "NG"})
    assert response.status_code == 401


async def test_unknown_group_is_422_naming_the_allowed_groups(client, sign_up):
    participant = await sign_up()
    response = await client.put(
        "/api/v1/me/affiliation", json={"stakeholder_group": "lobby", "country": "NG"}, headers=participant["headers"]
    )

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "affiliation_invalid"
    assert body["errors"] == [
        {
            "field": "stakeholder_group",
            "message": "Unknown stakeholder group 'lobby'; allowed: " + ", ".join(GROUPS),
            "allowed": GROUPS,
        }
    ]
    assert "government, private_sector, civil_society" in body["detail"]


async def test_unknown_country_is_422_listing_every_allowed_code(client, sign_up):
    participant = await sign_up()
    response = await client.put(
        "/api/v1/me/affiliation", json={"stakeholder_group": "government", "country": "XK"}, headers=participant["headers"]
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "country"
    assert "Unknown country 'XK'" in error["message"]
    assert "GET /api/v1/taxonomy" in error["message"]
    assert len(error["allowed"]) == 249
    assert {"NG", "DE", "BR", "JP", "PL"} <= set(error["allowed"])


async def test_unknown_group_and_country_are_both_reported(client, sign_up):
    participant = await sign_up()
    response = await client.put(
        "/api/v1/me/affiliation", json={"stakeholder_group": "Government", "country": "DEU"}, headers=participant["headers"]
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["stakeholder_group", "country"]


async def test_region_is_derived_and_cannot_be_sent(client, sign_up):
    participant = await sign_up()
    response = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "government", "country": "NG", "region": "western_europe_others"},
        headers=participant["headers"],
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "region"


MALFORMED = [
    ({"country": "NG"}, "stakeholder_group"),
    ({"stakeholder_group": "government"}, "country"),
    ({"stakeholder_group": 7, "country": "NG"}, "stakeholder_group"),
    ({"stakeholder_group": "government", "country": ["NG"]}, "country"),
    ({"stakeholder_group": "government", "country": "NG", "organisation": {"name": "x"}}, "organisation"),
    ({"stakeholder_group": "government", "country": "NG", "organisation": "x" * 201}, "organisation"),
    ({"stakeholder_group": "g" * 65, "country": "NG"}, "stakeholder_group"),
    ({"stakeholder_group": "government", "country": "NG", "organisation": "Nul\x00Org"}, "organisation"),
]


async def test_malformed_affiliation_is_422_naming_the_field(client, sign_up):
    participant = await sign_up()
    for body, field in MALFORMED:
        response = await client.put("/api/v1/me/affiliation", json=body, headers=participant["headers"])

        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_error"
        assert [error["field"] for error in response.json()["errors"]] == [field], body


async def test_html_and_sql_in_the_organisation_are_stored_and_returned_verbatim(client, sign_up):
    participant = await sign_up()
    organisation = "<script>alert('x')</script>'; DROP TABLE affiliations; --"
    response = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "private_sector", "country": "DE", "organisation": organisation},
        headers=participant["headers"],
    )

    assert response.status_code == 200
    assert response.json()["organisation"] == organisation
    assert (await client.get("/api/v1/me/affiliation", headers=participant["headers"])).json()["organisation"] == organisation


async def test_changing_affiliation_keeps_history_and_is_audited(client, sign_up, audit_events):
    participant = await sign_up()
    headers = participant["headers"]
    first = await client.put("/api/v1/me/affiliation", json={"stakeholder_group": "government", "country": "KE"}, headers=headers)
    second = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "technical_academic", "country": "IN", "organisation": "IIT"},
        headers=headers,
    )
    assert second.status_code == 200

    history = (await client.get("/api/v1/me/affiliation/history", headers=headers)).json()
    assert [(entry["stakeholder_group"], entry["region"]) for entry in history] == [
        ("technical_academic", "asia_pacific"),
        ("government", "africa"),
    ]
    assert history[0]["valid_to"] is None
    assert history[1]["valid_from"] == first.json()["valid_from"]
    assert history[1]["valid_to"] == history[0]["valid_from"]

    events = await audit_events(target_type="participant", target_id=participant["id"])
    assert [event["action"] for event in events] == ["participant.registered", "affiliation.set", "affiliation.changed"]
    assert events[1]["payload"] == {
        "stakeholder_group": "government",
        "region": "africa",
        "organisation": None,
        "previous": None,
    }
    assert events[2]["payload"] == {
        "stakeholder_group": "technical_academic",
        "region": "asia_pacific",
        "organisation": "IIT",
        "previous": {"stakeholder_group": "government", "region": "africa", "organisation": None},
    }
    assert events[2]["actor"]["id"] == participant["id"]


async def test_sending_the_same_affiliation_again_changes_nothing(client, sign_up, audit_events):
    participant = await sign_up()
    body = {"stakeholder_group": "civil_society", "country": "PL", "organisation": "Panoptykon"}
    first = await client.put("/api/v1/me/affiliation", json=body, headers=participant["headers"])
    again = await client.put("/api/v1/me/affiliation", json=body | {"country": "pl"}, headers=participant["headers"])

    assert again.status_code == 200
    assert again.json() == first.json()
    assert len((await client.get("/api/v1/me/affiliation/history", headers=participant["headers"])).json()) == 1
    actions = [event["action"] for event in await audit_events(target_id=participant["id"])]
    assert actions.count("affiliation.set") == 1
    assert "affiliation.changed" not in actions
