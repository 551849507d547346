"""Norms over HTTP: create, read, edit, versions, diffs, history and authorship, as members and others see them."""

from __future__ import annotations

import base58


async def test_member_creates_a_norm_with_an_automerge_url(client, network, norm):
    assert norm["status"] == "drafting"
    assert norm["text"] == "Platforms publish their ranking criteria."
    assert norm["network"] == network["slug"]
    assert norm["slug"] == "recommender-transparency"
    assert norm["url"].startswith("automerge:")
    assert len(base58.b58decode_check(norm["url"].removeprefix("automerge:"))) == 16
    assert norm["current_version"] is None

    fetched = await client.get(f"/api/v1/norms/{norm['id']}")  # public: no token
    assert fetched.status_code == 200
    assert fetched.json()["text"] == norm["text"]
    assert fetched.json()["heads"] == norm["heads"]

    listed = await client.get(f"/api/v1/networks/{network['slug']}/norms")
    assert [item["id"] for item in listed.json()] == [norm["id"]]
    created = [e for e in (await client.get("/api/v1/audit", params={"action": "norm.created"})).json()["items"]]
    assert created[0]["target_id"] == norm["id"]


async def test_same_title_gets_a_distinct_slug(client, network, norm):
    again = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Recommender transparency"}, headers=network["members"][1]["headers"]
    )
    assert again.status_code == 201
    assert again.json()["slug"] == "recommender-transparency-2"
    assert again.json()["text"] == ""


async def test_norm_titles_in_other_scripts_get_latin_slugs(client, network, norm):
    member = network["members"][1]["headers"]
    made = []
    for title in ("الشفافية الخوارزمية", "الشفافية الخوارزمية", "算法透明度", "Прозрачность алгоритмов", "✦✦"):
        created = await client.post(f"/api/v1/networks/{network['slug']}/norms", json={"title": title}, headers=member)
        assert created.status_code == 201
        made.append(created.json()["slug"])
    assert made == ["lshffy-lkhwrzmy", "lshffy-lkhwrzmy-2", "suan-fa-tou-ming-du", "prozrachnost-algoritmov", "norm"]


async def test_outsiders_and_strangers_cannot_create_or_edit(client, network, norm):
    outsider = network["outsider"]["headers"]
    refused = await client.post(f"/api/v1/networks/{network['slug']}/norms", json={"title": "Mine"}, headers=outsider)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_a_member"
    edit = await client.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "X"}]}, headers=outsider)
    assert edit.status_code == 403
    anonymous = await client.post(f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "insert": "X"}]})
    assert anonymous.status_code == 401
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == norm["text"]
    assert (await client.post("/api/v1/networks/no-such-network/norms", json={"title": "x"}, headers=outsider)).status_code == 404
    assert (await client.get("/api/v1/norms/00000000-0000-0000-0000-000000000000")).status_code == 404
    assert (await client.get("/api/v1/norms/not-a-uuid")).status_code == 422


async def test_edits_apply_splices_and_title(client, network, norm):
    headers = network["members"][1]["headers"]
    response = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={
            "splices": [{"index": 10, "delete": 7, "insert": "disclose"}, {"index": 0, "insert": "Large "}],
            "title": "Ranking transparency",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "Large Platforms disclose their ranking criteria."
    assert response.json()["title"] == "Ranking transparency"
    assert len(response.json()["changes"]) == 1
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["title"] == "Ranking transparency"


async def test_concurrent_edits_from_the_same_base_both_survive(client, network, norm):
    base = norm["heads"]
    first = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"base_heads": base, "splices": [{"index": 0, "insert": "All "}]},
        headers=network["members"][1]["headers"],
    )
    second = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"base_heads": base, "splices": [{"index": len(norm["text"]) - 1, "delete": 1, "insert": ", yearly."}]},
        headers=network["members"][2]["headers"],
    )
    assert first.status_code == second.status_code == 200
    final = (await client.get(f"/api/v1/norms/{norm['id']}")).json()
    assert final["text"] == "All Platforms publish their ranking criteria, yearly."
    assert len(final["heads"]) == 2


async def test_bad_splices_and_heads_are_rejected_and_store_nothing(client, network, norm):
    headers = network["members"][0]["headers"]
    before = (await client.get(f"/api/v1/norms/{norm['id']}/history")).json()["items"]
    cases = [
        ({"splices": [{"index": 999, "insert": "x"}]}, 422, "splice_out_of_range"),
        ({"splices": [{"index": 0, "delete": 999}]}, 422, "splice_out_of_range"),
        ({"splices": [{"index": -1, "insert": "x"}]}, 422, "validation_error"),
        ({"splices": [{"index": "zero", "insert": "x"}]}, 422, "validation_error"),
        ({"base_heads": ["00" * 32], "splices": [{"index": 0, "insert": "x"}]}, 422, "invalid_heads"),
        ({"base_heads": ["zz"], "splices": []}, 422, "validation_error"),
        ({"splices": [], "extra": 1}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        response = await client.post(f"/api/v1/norms/{norm['id']}/edits", json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert (await client.get(f"/api/v1/norms/{norm['id']}/history")).json()["items"] == before
    assert (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"] == norm["text"]


async def test_non_ascii_text_is_indexed_in_code_points(client, network, norm):
    headers = network["members"][0]["headers"]
    response = await client.post(
        f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "delete": 9, "insert": "Plateformes 🌍 é"}]}, headers=headers
    )
    assert response.json()["text"] == "Plateformes 🌍 é publish their ranking criteria."
    after = await client.post(
        f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 12, "delete": 1, "insert": "🌏"}]}, headers=headers
    )
    assert after.json()["text"] == "Plateformes 🌏 é publish their ranking criteria."
