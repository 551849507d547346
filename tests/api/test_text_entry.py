"""Every way text enters over the API refuses the same characters the same way: a 422 naming the field,
the character and its index, and nothing stored. (Live sync and Automerge uploads: tests/norms/test_document_checks.py
and tests/realtime/test_text_policy.py.)"""

from __future__ import annotations

from datetime import timedelta


def _refused(response, field: str, character: str, index: int) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert [error["field"] for error in body["errors"]] == [field]
    assert f"{field}: Must not contain" in body["detail"]
    assert f"U+{ord(character):04X} (at index {index}" in body["detail"], body["detail"]


async def test_every_text_field_refuses_control_characters_and_stores_nothing(client, council, clock, sign_up):  # noqa: F811
    amina = council["convener"]
    headers = amina["headers"]
    norm = council["norm"]
    soon = (clock.now() + timedelta(days=3)).isoformat()
    ballot = await client.post(f"/api/v1/norms/{norm['id']}/ballots", json={"version": 1, "closes_at": soon}, headers=headers)
    consultation = await client.post(
        f"/api/v1/norms/{norm['id']}/consultations", json={"version": 1, "closes_at": soon, "question": "Clear?"}, headers=headers
    )
    assert ballot.status_code == consultation.status_code == 201

    attempts = [
        (
            "post",
            "/api/v1/auth/register",
            {"email": "eve@example.org", "password": "a long password", "display_name": "Eve\x01"},
            "display_name",
            "\x01",
            3,
        ),
        (
            "put",
            "/api/v1/me/affiliation",
            {"stakeholder_group": "civil_society", "country": "KE", "organisation": "Org\x1b"},
            "organisation",
            "\x1b",
            3,
        ),
        ("post", "/api/v1/networks", {"name": "Net\x07", "issue": "I", "aims": "A", "intended_outcome": "O"}, "name", "\x07", 3),
        ("post", "/api/v1/networks", {"name": "Net", "issue": "An \x00issue", "aims": "A", "intended_outcome": "O"}, "issue", "\x00", 3),
        ("post", "/api/v1/networks", {"name": "Net", "issue": "I", "aims": "\x7fAims", "intended_outcome": "O"}, "aims", "\x7f", 0),
        ("post", f"/api/v1/networks/{council['slug']}/norms", {"title": "  Title\x1f", "text": "Text"}, "title", "\x1f", 7),
        ("post", f"/api/v1/networks/{council['slug']}/norms", {"title": "Title", "text": "Line\r\n\tnext\x0c"}, "text", "\x0c", 11),
        (
            "post",
            f"/api/v1/networks/{council['slug']}/norms",
            # A lone surrogate can only be written as a JSON escape.
            '{"title": "Title", "text": "half a pair \\ud83d"}',
            "text",
            "\ud83d",
            12,
        ),
        ("post", f"/api/v1/norms/{norm['id']}/edits", {"splices": [{"index": 0, "insert": "NUL\x00"}]}, "splices.0.insert", "\x00", 3),
        ("post", f"/api/v1/norms/{norm['id']}/edits", {"title": "New\x02"}, "title", "\x02", 3),
        ("post", f"/api/v1/norms/{norm['id']}/versions", {"label": "v\x03"}, "label", "\x03", 1),
        ("post", f"/api/v1/norms/{norm['id']}/versions", {"label": "v2", "note": "\uffff"}, "note", "\uffff", 0),
        ("put", f"/api/v1/ballots/{ballot.json()['id']}/vote", {"position": "object", "reason": "Unclear\x08"}, "reason", "\x08", 7),
        ("post", f"/api/v1/consultations/{consultation.json()['id']}/comments", {"body": "Good\x85"}, "body", "\x85", 4),
    ]
    for method, path, body, field, character, index in attempts:
        if isinstance(body, str):
            response = await client.request(method, path, content=body, headers=headers | {"content-type": "application/json"})
        else:
            response = await client.request(method, path, json=body, headers=headers)
        _refused(response, field, character, index)

    # Nothing of it was stored: the norm, its versions and its network are as they were.
    current = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    assert (current["title"], current["text"], current["change_count"]) == (norm["title"], norm["text"], norm["change_count"])
    assert len((await client.get(f"/api/v1/norms/{norm['id']}/versions")).json()) == 1
    assert [n["title"] for n in (await client.get(f"/api/v1/networks/{council['slug']}/norms")).json()] == [norm["title"]]
    assert (await client.get(f"/api/v1/ballots/{ballot.json()['id']}")).json()["votes"] == []
    assert (await client.get(f"/api/v1/consultations/{consultation.json()['id']}/comments")).json() == []


async def test_tab_line_feed_and_carriage_return_are_text(client, council):  # noqa: F811
    norm = council["norm"]
    edited = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": 0, "insert": "Article 1\r\n\tScope\n"}]},
        headers=council["convener"]["headers"],
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == "Article 1\r\n\tScope\n" + norm["text"]
