"""Live sync through real sockets: edits are stored before anyone hears of them, and reach every peer."""

from __future__ import annotations

from norms import document


async def test_two_members_see_each_others_edits(client, network, norm, connect):
    amina, bruno = network["members"][0], network["members"][1]
    first = await (await connect(amina)).open(norm["url"])
    second = await (await connect(bruno)).open(norm["url"])
    assert first.text == second.text == "Platforms publish their ranking criteria."

    await first.splice(0, 0, "Large ")
    await second.wait_for(lambda handle: handle.text.startswith("Large "))
    await second.splice(len(second.text), 0, " Yearly.")
    await first.wait_for(lambda handle: handle.text.endswith("Yearly."))
    await first.wait_synced()

    stored = await client.get(f"/api/v1/norms/{norm['id']}")
    assert stored.json()["text"] == "Large Platforms publish their ranking criteria. Yearly."
    history = await client.get(f"/api/v1/norms/{norm['id']}/history")
    authors = {entry["participant"]["display_name"] for entry in history.json()["items"]}
    assert {"Amina", "Bruno"} <= authors


async def test_http_edits_reach_live_peers(client, network, norm, connect):
    reader = await (await connect()).open(norm["url"])
    response = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": 0, "delete": 0, "insert": "New: "}]},
        headers=network["members"][1]["headers"],
    )
    assert response.status_code == 200, response.text
    await reader.wait_for(lambda handle: handle.text.startswith("New: "))
    assert document.read_title(reader.doc) == "Recommender transparency"
