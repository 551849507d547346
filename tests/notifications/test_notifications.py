"""Notifications through a real SMTP server (aiosmtpd): a ballot told to each elector once, in the notification
centre and by mail; the closing reminder only to those who have not voted; digests; one-click unsubscribe
without signing in; following; members-only notifications stop when a member leaves."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from tests.fixtures.norms import COUNCIL_CHARTER, build_council

GROUPS = ["civil_society", "private_sector", "technical_academic", "government"]
COUNTRIES = ["KE", "BR", "SG", "DE", "FR", "IN"]
# Thirty experts across four groups and five regions; the first convenes.
THIRTY = [(f"Expert {n:02d}", GROUPS[n % 4], COUNTRIES[n % 6], f"Organisation {n}") for n in range(30)]


@pytest.fixture
def settings_overrides(smtp) -> dict:
    return {"smtp_url": smtp.url, "mail_from": "CoGov <cogov@example.org>", "base_url": "http://cogov.test"}


async def drain(worker) -> None:
    """Let the worker write and hand over every mail now due."""
    while await worker.mail_notifications() + await worker.send_mail():
        pass


async def inbox(client, person: dict, kind: str | None = None) -> list[dict]:
    response = await client.get("/api/v1/me/notifications", headers=person["headers"])
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if kind is None or item["kind"] == kind]


def mails(smtp, person: dict, words: str) -> list:
    return [mail for mail in smtp.to(person["email"]) if words in str(mail["Subject"])]


def raw_header(mail, name: str) -> str:
    """A header as it came over the wire, before any decoding of RFC 2047 encoded words."""
    [value] = [value for header, value in mail.raw_items() if header.lower() == name.lower()]
    return value


async def open_ballot(client, council, clock, hours: int = 48) -> dict:
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=hours)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    return opened.json()


async def test_a_ballot_reaches_each_elector_once_and_the_reminder_only_those_who_have_not_voted(client, sign_up, smtp, worker, clock):
    council = await build_council(client, sign_up, THIRTY, COUNCIL_CHARTER)
    await drain(worker)
    ballot = await open_ballot(client, council, clock)
    await drain(worker)
    for member in council["members"]:
        [told] = await inbox(client, member, "ballot_opened")
        assert told["url"].endswith(f"/ballots/{ballot['id']}") and told["read"] is False
        [mail] = mails(smtp, member, "Ballot open on")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert str(mail["List-Unsubscribe"]).startswith("<http://cogov.test/notifications/unsubscribe?token=")
        # As RFC 2369 and 8058 want it: the address itself in angle brackets, never an encoded word mail clients
        # would not take for a link.
        assert raw_header(mail, "List-Unsubscribe").startswith("<http://cogov.test/notifications/unsubscribe?token="), mail
        assert "http://cogov.test/settings/notifications" in mail.get_body(preferencelist=("plain",)).get_content()
    assert not await inbox(client, council["outsider"], "ballot_opened")
    await drain(worker)  # nothing handed over twice
    assert all(len(mails(smtp, member, "Ballot open on")) == 1 for member in council["members"])

    voters, others = council["members"][:10], council["members"][10:]
    for member in voters:
        voted = await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=member["headers"])
        assert voted.status_code == 200, voted.text
    assert await worker.remind_closing() == 0  # 48 hours left
    clock.advance(hours=25)
    assert await worker.remind_closing() == 1
    assert await worker.remind_closing() == 0  # once per ballot
    await drain(worker)
    for member in voters:
        assert not await inbox(client, member, "ballot_closing") and not mails(smtp, member, "You have not voted")
    for member in others:
        assert len(await inbox(client, member, "ballot_closing")) == 1 and len(mails(smtp, member, "You have not voted")) == 1


async def test_a_digest_brings_every_event_of_its_period_in_one_mail(client, council, smtp, worker, clock):
    dana = council["members"][3]
    daily = {"ballot_opened": "daily", "version_tagged": "daily", "consultation_opened": "daily"}
    changed = await client.patch(
        "/api/v1/me/notification-preferences",
        json={"modes": daily, "digest_hour": 7, "time_zone": "Europe/Berlin"},
        headers=dana["headers"],
    )
    assert changed.status_code == 200, changed.text
    convener, norm = council["convener"], council["norm"]
    tagged = await client.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "Second"}, headers=convener["headers"])
    assert tagged.status_code == 201, tagged.text
    consultation = await client.post(
        f"/api/v1/norms/{norm['id']}/consultations",
        json={"version": 2, "question": "Is this clear?", "closes_at": (clock.now() + timedelta(days=10)).isoformat()},
        headers=convener["headers"],
    )
    assert consultation.status_code == 201, consultation.text
    await open_ballot(client, council, clock, hours=72)
    await drain(worker)
    assert not mails(smtp, dana, "digest")
    told = await inbox(client, dana)
    assert len(told) == 4  # the council's version 1 too, a daily digest kind from the start
    clock.advance(hours=25)  # past 07:00 in Berlin
    await drain(worker)
    [digest] = mails(smtp, dana, "Your daily CoGov digest: 4 notifications")
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert raw_header(digest, "List-Unsubscribe").startswith("<http://cogov.test/notifications/unsubscribe?token=")
    for item in told:
        assert item["title"] in text and "http://cogov.test" + item["url"] in text
    clock.advance(hours=25)
    await drain(worker)
    assert len(mails(smtp, dana, "digest")) == 1


async def test_unsubscribing_from_a_mail_needs_no_sign_in_and_a_used_or_forged_link_changes_nothing(
    client, app, council, smtp, worker, clock
):
    await open_ballot(client, council, clock)
    await drain(worker)
    bruno = council["members"][1]
    [mail] = mails(smtp, bruno, "Ballot open on")
    link = str(mail["List-Unsubscribe"]).strip("<>")
    path = urlsplit(link).path + "?" + urlsplit(link).query
    client.cookies.clear()
    assert (await client.get(path)).status_code == 200  # opening the link changes nothing
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert (await client.post(forged, content=b"List-Unsubscribe=One-Click")).status_code == 400
    preferences = await client.get("/api/v1/me/notification-preferences", headers=bruno["headers"])
    assert preferences.json()["modes"]["ballot_opened"] == "at_once"
    done = await client.post(path, content=b"List-Unsubscribe=One-Click", headers={"content-type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200, done.text
    preferences = await client.get("/api/v1/me/notification-preferences", headers=bruno["headers"])
    assert preferences.json()["modes"]["ballot_opened"] == "never"
    # Bruno chooses mail again; the old link, used once, stays void.
    await client.patch("/api/v1/me/notification-preferences", json={"modes": {"ballot_opened": "at_once"}}, headers=bruno["headers"])
    assert (await client.post(path, content=b"List-Unsubscribe=One-Click")).status_code == 400
    preferences = await client.get("/api/v1/me/notification-preferences", headers=bruno["headers"])
    assert preferences.json()["modes"]["ballot_opened"] == "at_once"


async def test_preferences_outside_the_choices_are_refused(client, council):
    amina = council["convener"]
    for body in (
        {"modes": {"ballot_opened": "hourly"}},
        {"modes": {"no_such_kind": "never"}},
        {"digest_hour": 24},
        {"time_zone": "Mars/Olympus"},
    ):
        refused = await client.patch("/api/v1/me/notification-preferences", json=body, headers=amina["headers"])
        assert refused.status_code == 422, (body, refused.text)
    assert (await client.get("/api/v1/me/notification-preferences", headers=amina["headers"])).json()["modes"]["ballot_opened"] == "at_once"


async def test_following_a_network_brings_its_news_and_the_list_is_private(client, council, sign_up, smtp, worker, clock):
    olga = council["outsider"]
    followed = await client.post("/api/v1/me/follows", json={"target": "network", "key": council["slug"]}, headers=olga["headers"])
    assert followed.status_code == 200, followed.text
    assert followed.json()["followers"] == 1
    norm_id = council["norm"]["id"]
    assert (await client.post("/api/v1/me/follows", json={"target": "norm", "key": norm_id}, headers=olga["headers"])).status_code == 200
    assert (await client.post("/api/v1/me/follows", json={"target": "clearinghouse"}, headers=olga["headers"])).status_code == 200
    for missing in (
        {"target": "network", "key": "no-such-network"},
        {"target": "norm", "key": "0" * 32},
        {"target": "topic", "key": "nope"},
    ):
        assert (await client.post("/api/v1/me/follows", json=missing, headers=olga["headers"])).status_code == 404
    count = await client.get("/api/v1/followers", params={"target": "network", "key": council["slug"]})
    assert count.status_code == 200 and count.json()["followers"] == 1
    assert (await client.get("/api/v1/me/follows")).status_code == 401
    assert len((await client.get("/api/v1/me/follows", headers=olga["headers"])).json()) == 3

    tagged = await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Second"}, headers=council["convener"]["headers"])
    assert tagged.status_code == 201
    ballot = await open_ballot(client, council, clock, hours=2)
    assert not await inbox(client, olga, "ballot_opened")  # a follower is no elector
    for member in council["members"]:
        await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=member["headers"])
    kinds = sorted(item["kind"] for item in await inbox(client, olga))
    assert kinds == ["ballot_closed", "norm_adopted", "version_tagged"]  # each once, though she follows three ways
    unfollowed = await client.request(
        "DELETE", "/api/v1/me/follows", json={"target": "network", "key": council["slug"]}, headers=olga["headers"]
    )
    assert unfollowed.json()["followers"] == 0


async def test_a_member_who_leaves_stops_receiving_members_only_notifications_at_once(client, council, smtp, worker, clock):
    await open_ballot(client, council, clock)
    dana = council["members"][3]
    assert len(await inbox(client, dana, "ballot_opened")) == 1
    left = await client.post(f"/api/v1/networks/{council['slug']}/leave", headers=dana["headers"])
    assert left.status_code == 204, left.text
    assert not await inbox(client, dana, "ballot_opened")
    await drain(worker)
    assert not mails(smtp, dana, "Ballot open on")
    assert len(mails(smtp, council["members"][2], "Ballot open on")) == 1


async def test_the_centre_marks_read_one_and_all(client, council, clock):
    await open_ballot(client, council, clock)
    chen, dana = council["members"][2], council["members"][3]

    async def unread(person: dict) -> int:
        return (await client.get("/api/v1/me/notifications", headers=person["headers"])).json()["unread"]

    items = await inbox(client, chen)
    # The network became active, version 1 was tagged, a ballot opened: each told once.
    assert sorted(item["kind"] for item in items) == ["ballot_opened", "network_status", "version_tagged"]
    assert await unread(chen) == 3
    assert (await client.post(f"/api/v1/me/notifications/{items[0]['id']}/read", headers=chen["headers"])).status_code == 204
    assert await unread(chen) == 2
    # Another's notification is not Chen's to mark.
    before = await unread(dana)
    await client.post(f"/api/v1/me/notifications/{(await inbox(client, dana))[0]['id']}/read", headers=chen["headers"])
    assert await unread(dana) == before
    assert (await client.post("/api/v1/me/notifications/read-all", headers=chen["headers"])).status_code == 204
    assert await unread(chen) == 0
