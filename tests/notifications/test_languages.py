"""A notification speaks its reader's language, not the language of whoever acted: its title in the notification
centre and the API, and its mail (subject, body, footer; a digest's too) are written in the language the person
chose with the header's switch; someone who never chose reads English."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.notifications.test_notifications import drain, inbox, mails, open_ballot
from tests.web.test_ballot_pages import _csrf, browser, squash


@pytest.fixture
def settings_overrides(smtp) -> dict:
    return {"smtp_url": smtp.url, "mail_from": "CoGov <cogov@example.org>", "base_url": "http://cogov.test"}


async def choose(app, person: dict, language: str) -> None:
    """`person` picks `language` with the switch in the header, as on any page."""
    async with browser(app, person) as page:
        home = await page.get("/")
        switched = await page.post("/language", data={"csrf_token": _csrf(home.text), "lang": language, "next": "/"})
        assert switched.status_code == 303, switched.text


def text_of(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


async def test_a_ballot_is_told_to_each_elector_in_the_language_they_chose(client, app, council, smtp, worker, clock):
    bruno, chen = council["members"][1], council["members"][2]
    await choose(app, bruno, "fr")
    await choose(app, chen, "ar")
    title = council["norm"]["title"]
    # The convener acts in Russian: no one reads Russian because of it.
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": 1, "closes_at": (clock.now() + timedelta(hours=48)).isoformat()},
        headers={**council["convener"]["headers"], "Accept-Language": "ru", "Cookie": "cogov_lang=ru"},
    )
    assert opened.status_code == 201, opened.text
    await drain(worker)

    [french] = mails(smtp, bruno, f"Scrutin ouvert sur {title} v1 : votez avant le")
    assert text_of(french).startswith("Bonjour ")
    assert "Ne plus recevoir ces courriels" in text_of(french) and "Ballot open" not in text_of(french)
    [arabic] = mails(smtp, chen, f"فُتح التصويت على {title} v1")
    assert "إيقاف هذه الرسائل" in text_of(arabic)
    html = arabic.get_body(preferencelist=("html",)).get_content()
    assert 'lang="ar" dir="rtl"' in html
    dana = council["members"][3]
    [english] = mails(smtp, dana, f"Ballot open on {title} v1: vote by")
    assert "Stop these mails" in text_of(english)

    # The centre, on the page and through the API, in each one's language: the API follows the account's choice.
    [told] = await inbox(client, bruno, "ballot_opened")
    assert told["title"].startswith(f"Scrutin ouvert sur {title} v1")
    [told] = await inbox(client, dana, "ballot_opened")
    assert told["title"].startswith(f"Ballot open on {title} v1")
    async with browser(app, chen) as page:
        centre = squash((await page.get("/notifications")).text)
        assert f"فُتح التصويت على {title} v1" in centre
        home = squash((await page.get("/")).text)
        assert f"صوّت على {title} v1" in home  # awaiting them: vote


async def test_a_digest_is_written_in_its_reader_s_language(client, app, council, smtp, worker, clock):
    dana = council["members"][3]
    await choose(app, dana, "ru")
    changed = await client.patch(
        "/api/v1/me/notification-preferences",
        json={"modes": {"ballot_opened": "daily", "version_tagged": "daily"}, "digest_hour": 7, "time_zone": "UTC"},
        headers=dana["headers"],
    )
    assert changed.status_code == 200, changed.text
    convener, norm = council["convener"], council["norm"]
    tagged = await client.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "Second"}, headers=convener["headers"])
    assert tagged.status_code == 201, tagged.text
    await open_ballot(client, council, clock, hours=72)
    await drain(worker)
    clock.advance(hours=25)
    await drain(worker)
    [digest] = mails(smtp, dana, "Ваша ежедневная сводка CoGov: 3 уведомления")
    text = text_of(digest)
    assert "3 события с вашей последней ежедневной сводки:" in text
    assert f"Открыто голосование по {norm['title']} v1" in text and f"Версия 2 документа {norm['title']} отмечена" in text
