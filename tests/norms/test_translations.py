"""Translations of a version: started by members, co-edited live over the sync socket, reviewed by a convener."""

from __future__ import annotations

import asyncio

ORIGINAL = "Platforms publish their ranking criteria."
FRENCH = "Les plateformes publient leurs critères de classement."


def translations_of(council: dict, version: int = 1) -> str:
    return f"/api/v1/norms/{council['norm']['id']}/versions/{version}/translations"


async def start(client, council: dict, language: str, person: dict | None = None):
    person = person or council["members"][1]
    return await client.post(translations_of(council), json={"language": language}, headers=person["headers"])


async def translate(handle, text: str) -> None:
    """Replace the handle's whole text, as a translator replaces the copy of the original."""
    await handle.splice(0, len(handle.text), text)


async def test_a_norm_is_drafted_in_english_unless_its_author_says_otherwise(client, network):
    founder = network["members"][0]
    default = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Norme", "text": "x"}, headers=founder["headers"]
    )
    assert default.status_code == 201 and default.json()["language"] == "en"
    french = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Norme", "text": "x", "language": "fr"}, headers=founder["headers"]
    )
    assert french.status_code == 201 and french.json()["language"] == "fr"
    assert (await client.get(f"/api/v1/norms/{french.json()['id']}")).json()["language"] == "fr"
    klingon = await client.post(
        f"/api/v1/networks/{network['slug']}/norms", json={"title": "Norm", "text": "x", "language": "tlh"}, headers=founder["headers"]
    )
    assert klingon.status_code == 422


async def test_two_members_co_edit_a_translation_live_and_a_convener_reviews_it(client, council, connect):
    started = await start(client, council, "fr")
    assert started.status_code == 201, started.text
    translation = started.json()
    assert translation["language"] == "fr" and translation["authentic_language"] == "en"
    assert translation["text"] == ORIGINAL and translation["title"] == "Recommender transparency"
    assert translation["reviewed"] is False and translation["url"] != council["norm"]["url"]

    bruno, chen = council["members"][1], council["members"][2]
    first = await (await connect(bruno)).open(translation["url"])
    second = await (await connect(chen)).open(translation["url"])
    assert first.text == second.text == ORIGINAL
    await translate(first, "Les plateformes publient leurs critères.")
    await second.wait_for(lambda handle: handle.text == "Les plateformes publient leurs critères.")
    await second.splice(len("Les plateformes publient leurs critères"), 0, " de classement")
    await first.wait_for(lambda handle: handle.text == FRENCH)
    await first.wait_synced()
    await second.wait_synced()

    stored = (await client.get(translations_of(council) + "/fr")).json()
    assert stored["text"] == FRENCH and stored["reviewed_text"] is None
    # The norm's own document is untouched.
    assert (await client.get(f"/api/v1/norms/{council['norm']['id']}")).json()["text"] == ORIGINAL

    refused = await client.post(translations_of(council) + "/fr/review", headers=bruno["headers"])
    assert refused.status_code == 403, refused.text
    reviewed = await client.post(translations_of(council) + "/fr/review", headers=council["convener"]["headers"])
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["reviewed"] is True and reviewed.json()["reviewed_text"] == FRENCH
    assert reviewed.json()["reviewed_by"]["display_name"] == "Amina"

    listing = await client.get(translations_of(council))
    assert [(item["language"], item["reviewed"]) for item in listing.json()] == [("fr", True)]


async def test_the_authentic_language_an_unsupported_one_and_a_second_translation_are_refused(client, council):
    assert (await start(client, council, "en")).status_code == 422
    assert (await start(client, council, "de")).status_code == 422
    assert (await start(client, council, "es")).status_code == 201
    second = await start(client, council, "es", council["members"][2])
    assert second.status_code == 409 and second.json()["code"] == "translation_exists"
    assert (await start(client, council, "es", council["outsider"])).status_code == 403
    missing = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions/9/translations", json={"language": "fr"}, headers=council["members"][1]["headers"]
    )
    assert missing.status_code == 404
    assert (await client.get(translations_of(council) + "/ru")).status_code == 404


async def test_only_members_edit_a_translation_and_anyone_reads_it(client, council, connect):
    translation = (await start(client, council, "ru")).json()
    reader = await (await connect()).open(translation["url"])
    assert reader.text == ORIGINAL
    outsider = await connect(council["outsider"])
    handle = await outsider.open(translation["url"])  # outsiders may read
    await handle.splice(0, 0, "Нет: ")
    async with asyncio.timeout(5):
        code, reason = await outsider.closed
    assert code == 1008 and "nothing stored" in reason
    assert (await client.get(translations_of(council) + "/ru")).json()["text"] == ORIGINAL
