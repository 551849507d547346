"""Notifications of verified affiliations and of discussions: asking to vouch tells the asked (in the centre and
by mail through a real SMTP server) and waits on their home page until they vouch; being verified by vouches or
by a registrar, and a registrar's revocation, tell the person; a mention tells the mentioned member once and a
name that is no member's tells no one; a reply tells the thread's earlier posters but not the replier."""

from __future__ import annotations

import pytest

from services.accounts import service as accounts
from services.accounts.models import Role
from services.kit.db import transaction
from tests.fixtures.accounts import affiliate, enrol_two_factor
from tests.notifications.test_notifications import drain, inbox, mails
from tests.web.test_ballot_pages import browser


@pytest.fixture
def settings_overrides(smtp) -> dict:
    return {"smtp_url": smtp.url, "mail_from": "CoGov <cogov@example.org>", "base_url": "http://cogov.test"}


async def registrar(client, app, sign_up) -> dict:
    rita = await affiliate(client, await sign_up("Rita"), "technical_academic", "JP", None)
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(
            session, app.state.password_hashing, email=rita["email"], role=Role.registrar, password=None, display_name=None
        )
    return await enrol_two_factor(client, rita, app.state.clock.now())


async def decide(client, rita: dict, who: dict, act: str, note: str) -> None:
    path = "registrar-verification" if act == "verify" else "revocation"
    done = await client.post(f"/api/v1/participants/{who['id']}/{path}", json={"note": note}, headers=rita["headers"])
    assert done.status_code == 201, done.text


async def colleagues(client, app, sign_up) -> tuple[dict, dict, dict, dict]:
    """Rita (a registrar), Bia and Caio (civil society, verified by Rita), and Eva (an independent expert, unverified)."""
    rita = await registrar(client, app, sign_up)
    bia = await affiliate(client, await sign_up("Bia"), "civil_society", "BR", "Nupef")
    caio = await affiliate(client, await sign_up("Caio"), "civil_society", "BR", "Idec")
    eva = await affiliate(client, await sign_up("Eva"), "civil_society", "KE", None)
    for who in (bia, caio):
        await decide(client, rita, who, "verify", "IGF MAG list 2026")
    return rita, bia, caio, eva


async def vouch(client, voucher: dict, candidate: dict) -> None:
    done = await client.post(f"/api/v1/participants/{candidate['id']}/vouch", headers=voucher["headers"])
    assert done.status_code == 201, done.text


async def test_asking_to_vouch_tells_the_asked_and_waits_for_them_until_they_vouch(client, app, sign_up, smtp, worker):
    _rita, bia, caio, eva = await colleagues(client, app, sign_up)
    asked = await client.post("/api/v1/me/vouch-requests", json={"asked": [bia["id"], caio["id"]]}, headers=eva["headers"])
    assert asked.status_code == 201, asked.text
    again = await client.post("/api/v1/me/vouch-requests", json={"asked": [bia["id"]]}, headers=eva["headers"])
    assert again.json()["asked"] == []  # asked once already: told once
    for who in (bia, caio):
        [told] = await inbox(client, who, "vouch_requested")
        assert told["title"] == "Eva asks you to vouch for their affiliation" and told["url"] == "/verification"
    assert not await inbox(client, eva, "vouch_requested")
    await drain(worker)
    [mail] = mails(smtp, bia, "Eva asks you to vouch for their affiliation")
    assert "http://cogov.test/verification" in mail.get_body(preferencelist=("plain",)).get_content()

    async with browser(app, bia) as page:
        home = (await page.get("/")).text
        assert 'id="awaiting"' in home and '<a href="/verification#requests-title" dir="auto">Eva asks you to vouch' in home
        await vouch(client, bia, eva)
        assert "asks you to vouch" not in (await page.get("/")).text
    assert not await inbox(client, eva, "affiliation_verified")  # one vouch of the two needed
    await vouch(client, caio, eva)
    [verified] = await inbox(client, eva, "affiliation_verified")
    assert verified["title"] == "Your affiliation is now verified (vouched by Bia and Caio)"


async def test_a_registrar_verifying_and_revoking_tells_the_person(client, app, sign_up):
    rita, bia, _caio, eva = await colleagues(client, app, sign_up)
    [told] = await inbox(client, bia, "affiliation_verified")
    assert told["title"] == "Your affiliation is now verified (verified by registrar Rita)"
    await decide(client, rita, eva, "verify", "IGF MAG list 2026")
    await decide(client, rita, eva, "revoke", "not on the list after all")
    titles = [item["title"] for item in await inbox(client, eva, "affiliation_verified")]
    assert titles == [
        "A registrar revoked the verification of your affiliation: not on the list after all",
        "Your affiliation is now verified (verified by registrar Rita)",
    ]
    assert not await inbox(client, rita, "affiliation_verified")


async def thread(client, council, author: dict, body: str) -> dict:
    opened = await client.post(f"/api/v1/norms/{council['norm']['id']}/threads", json={"body": body}, headers=author["headers"])
    assert opened.status_code == 201, opened.text
    return opened.json()


async def reply(client, thread_id: str, author: dict, body: str) -> None:
    replied = await client.post(f"/api/v1/threads/{thread_id}/posts", json={"body": body}, headers=author["headers"])
    assert replied.status_code == 201, replied.text


async def test_a_mention_tells_the_mentioned_member_once_and_a_non_member_no_one(client, council):
    amina, bruno, *others = council["members"]
    olga = council["outsider"]
    opened = await thread(client, council, amina, "Which criteria, @Bruno? And @bruno again; ask @Olga Outsider too, says @Amina.")
    [told] = await inbox(client, bruno, "mention")
    assert told["title"] == f"Amina mentioned you in a discussion on {council['norm']['title']}"
    assert told["url"] == f"/networks/{council['slug']}/norms/{council['norm']['slug']}#thread-{opened['id']}"
    for nobody in (amina, olga, *others):
        assert not await inbox(client, nobody, "mention")
    await thread(client, council, bruno, "Only @Olga Outsider knows.")
    assert not await inbox(client, olga)


async def test_a_reply_tells_the_earlier_posters_but_not_the_replier(client, council):
    amina, bruno, chen, *others = council["members"]

    async def replies(person: dict) -> list[str]:
        return [item["title"] for item in await inbox(client, person, "discussion_reply")]

    opened = await thread(client, council, amina, "Which criteria?")
    await reply(client, opened["id"], bruno, "The main ones.")
    title = council["norm"]["title"]
    assert await replies(amina) == [f"Bruno replied in a discussion on {title}"]
    assert await replies(bruno) == []
    await reply(client, opened["id"], bruno, "And the minor ones.")  # Amina hears of each reply; Bruno of none of his
    assert len(await replies(amina)) == 2 and await replies(bruno) == []
    await reply(client, opened["id"], chen, "Agreed, @Amina.")  # Amina is mentioned: told that, not twice
    assert len(await replies(amina)) == 2 and len(await inbox(client, amina, "mention")) == 1
    assert await replies(bruno) == [f"Chen replied in a discussion on {title}"]
    for nobody in (chen, *others, council["outsider"]):
        assert await replies(nobody) == []
