"""Taking part needs a proven address (networks/membership.py): an account whose address is not verified
may sign in and read, but not found or join a network, edit, vote or comment; open ballots keep their
frozen electorate."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.accounts import affiliate, mark_unverified
from tests.fixtures.networks import NETWORK


def refused(response) -> bool:
    return response.status_code == 403 and response.json()["code"] == "email_unverified"


async def test_an_unproven_address_reads_but_does_not_take_part(client, app, council, clock, sign_up, worker):
    convener, bruno = council["convener"], council["members"][1]
    norm_id = council["norm"]["id"]
    opened = await client.post(
        f"/api/v1/norms/{norm_id}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=3)).isoformat()},
        headers=convener["headers"],
    )
    assert opened.status_code == 201, opened.text
    ballot_id = opened.json()["id"]
    consultation = await client.post(
        f"/api/v1/norms/{norm_id}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=10)).isoformat(), "question": "Clear?"},
        headers=convener["headers"],
    )
    assert consultation.status_code == 201, consultation.text

    # Bruno's account is from before addresses were verified; a newcomer has not opened the link yet.
    await mark_unverified(app.state.sessionmaker, bruno["email"])
    newcomer = await affiliate(client, await sign_up("Nadia", verified=False), "government", "FR", "Ministry")

    assert (await client.get(f"/api/v1/networks/{council['slug']}", headers=bruno["headers"])).status_code == 200
    assert (await client.get(f"/api/v1/norms/{norm_id}", headers=bruno["headers"])).status_code == 200
    edit = {"splices": [{"index": 0, "delete": 0, "insert": "Unproven: "}]}
    assert refused(await client.post(f"/api/v1/norms/{norm_id}/edits", json=edit, headers=bruno["headers"]))
    assert refused(await client.put(f"/api/v1/ballots/{ballot_id}/vote", json={"position": "approve"}, headers=bruno["headers"]))
    assert refused(
        await client.post(f"/api/v1/networks/{council['slug']}/norms", json={"title": "T", "text": "x"}, headers=bruno["headers"])
    )
    comment = {"body": "A comment."}
    assert refused(
        await client.post(f"/api/v1/consultations/{consultation.json()['id']}/comments", json=comment, headers=newcomer["headers"])
    )
    assert refused(await client.post("/api/v1/networks", json=NETWORK, headers=newcomer["headers"]))
    assert refused(await client.post(f"/api/v1/networks/{council['slug']}/join", headers=newcomer["headers"]))

    # The ballot's electorate stays as it was frozen: Bruno still counts, and votes once his address is proven.
    ballot = (await client.get(f"/api/v1/ballots/{ballot_id}")).json()
    assert bruno["id"] in {elector["participant_id"] for elector in ballot["electorate"]}
    assert (await client.post("/api/v1/auth/verify-email/resend", headers=bruno["headers"])).status_code == 202
    await worker.send_mail()
    from services.mail.transport import stored

    mail = [message for message in stored(app.state.settings.data_dir / "mail") if bruno["email"] in str(message["To"])][-1]
    from tests.fixtures.mail import token_of

    assert (await client.post("/api/v1/auth/verify-email", json={"token": token_of(mail)})).status_code == 200
    voted = await client.put(f"/api/v1/ballots/{ballot_id}/vote", json={"position": "approve"}, headers=bruno["headers"])
    assert voted.status_code == 200, voted.text
    assert (await client.post(f"/api/v1/norms/{norm_id}/edits", json=edit, headers=bruno["headers"])).status_code in (200, 201)


async def test_a_page_says_why_and_offers_a_new_link(client, app, sign_up):
    person = await affiliate(client, await sign_up("Pat", verified=False), "government", "FR", "Ministry")
    token = person["headers"]["Authorization"].removeprefix("Bearer ")
    client.cookies.set("cogov_session", token)
    page = await client.get("/settings/email")
    assert page.status_code == 200
    assert "not confirmed yet" in page.text and "Mail me a new link" in page.text
    home = await client.get("/networks")
    assert "Confirm your address to take part" in home.text


async def test_a_page_act_refused_for_an_unproven_address_says_why_and_offers_a_new_link(client, app, sign_up):
    import re

    person = await affiliate(client, await sign_up("Quinn", verified=False), "government", "FR", "Ministry")
    client.cookies.set("cogov_session", person["headers"]["Authorization"].removeprefix("Bearer "))
    form = await client.get("/networks/new")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    refused_page = await client.post("/networks/new", data={"csrf_token": csrf, **NETWORK})
    # The form comes back with the reason beside it, and the page's notice links to a new link.
    assert refused_page.status_code == 422
    assert "Confirm your email address first" in refused_page.text and 'href="/settings/email"' in refused_page.text
    resent = await client.post("/verify-email/resend", data={"csrf_token": csrf})
    assert resent.status_code == 303  # the offered new link goes out
