"""An adoption whose publication keeps failing holds up no other: it is tried again after a backoff, marked failed
after the last try, shown to staff with its error beside failing WebSub deliveries, and published once staff retry it."""

from __future__ import annotations

import html
import uuid

import feedparser
import pytest
from sqlalchemy import select, update

from norms.models import Adoption
from tests.clearinghouse.subscriber import Subscriber
from tests.clearinghouse.test_pages import _csrf, as_browser
from tests.clearinghouse.test_websub import subscribed
from tests.fixtures.clearinghouse import adopt
from tests.fixtures.norms import TEXT

ATTEMPTS = 3
MISMATCH = "does not match its adoption's SHA-256"


@pytest.fixture(autouse=True)
def few_attempts(app):
    """COGOV_PUBLICATION_ATTEMPTS=3, for the app and its runtime's worker alike, before the worker is made."""
    app.state.settings = app.state.runtime.settings = app.state.settings.model_copy(update={"publication_attempts": ATTEMPTS})


async def break_adoption(app, adoption_id: str) -> str:
    """Make the adoption's text hash wrong, so its publication fails until it is put back; the hash it had."""
    async with app.state.sessionmaker() as session:
        right = await session.scalar(select(Adoption.text_sha256).where(Adoption.id == uuid.UUID(adoption_id)))
        await session.execute(update(Adoption).where(Adoption.id == uuid.UUID(adoption_id)).values(text_sha256="0" * 64))
        await session.commit()
    return right


async def mend_adoption(app, adoption_id: str, right: str) -> None:
    async with app.state.sessionmaker() as session:
        await session.execute(update(Adoption).where(Adoption.id == uuid.UUID(adoption_id)).values(text_sha256=right))
        await session.commit()


async def adopt_a_second_version(client, council, clock) -> dict:
    norm_id = council["norm"]["id"]
    edited = await client.post(
        f"/api/v1/norms/{norm_id}/edits",
        json={"splices": [{"index": 0, "delete": 0, "insert": "All "}]},
        headers=council["convener"]["headers"],
    )
    assert edited.status_code == 200, edited.text
    tagged = await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Second"}, headers=council["convener"]["headers"])
    assert tagged.status_code == 201, tagged.text
    clock.advance(hours=3)
    return await adopt(client, council, clock, version=2)


async def publication_status(client, staff) -> dict:
    answer = await client.get("/api/v1/clearinghouse/publication", headers=staff["headers"])
    assert answer.status_code == 200, answer.text
    return answer.json()


def feed_urns(body: bytes) -> list[str]:
    feed = feedparser.parse(body)
    assert feed.bozo == 0
    return [entry.id for entry in feed.entries]


async def test_a_failing_publication_holds_up_no_other_is_marked_failed_for_staff_and_published_once_retried(
    client, app, council, clock, worker, subscriber, staff
):
    broken = await Subscriber(default_status=500).start()
    try:
        await subscribed(client, worker, subscriber.url())
        await subscribed(client, worker, broken.url("/hooks"))
        first = await adopt(client, council, clock)
        right = await break_adoption(app, first["adoption_id"])
        await worker.run_once()
        [trouble] = (await publication_status(client, staff))["publications"]
        assert (trouble["status"], trouble["attempts"], trouble["version"]) == ("retrying", 1, 1)
        assert MISMATCH in trouble["last_error"] and trouble["next_attempt_at"] > clock.now().isoformat()
        await worker.run_once()  # not again before its backoff has passed
        assert (await publication_status(client, staff))["publications"][0]["attempts"] == 1

        # A later adoption is published and delivered while the first keeps failing.
        await adopt_a_second_version(client, council, clock)
        await worker.run_once()
        [published] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
        assert published["version"] == 2
        [received] = subscriber.accepted()
        assert feed_urns(received.body) == [published["urn"]]

        for _ in range(ATTEMPTS + 2):  # past every backoff: the last tries, then nothing more
            clock.advance(hours=2)
            await worker.publish_pending()
        status = await publication_status(client, staff)
        [failed] = status["publications"]
        assert (failed["status"], failed["attempts"], status["attempts"]) == ("failed", ATTEMPTS, ATTEMPTS)
        assert MISMATCH in failed["last_error"] and failed["failed_at"] and failed["next_attempt_at"] is None
        [failing] = status["deliveries"]
        assert failing["callback"] == broken.url("/hooks") and failing["status"] == "pending"
        assert failing["last_status_code"] == 500 and "answered 500" in failing["last_error"]

        # Staff see both on their page, linked from the staff navigation, and retry the publication there.
        as_browser(client, staff)
        curation = await client.get("/clearinghouse/staff")
        assert 'href="/clearinghouse/staff/publication"' in curation.text and "could not be published" in curation.text
        page = await client.get("/clearinghouse/staff/publication")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert "Recommender transparency" in text and MISMATCH in text and "Failed" in text
        assert broken.url("/hooks") in text and "the callback answered 500" in text
        mended_too_soon = await client.post(
            f"/clearinghouse/staff/publication/{failed['event_id']}/retry", data={"csrf_token": _csrf(page.text)}
        )
        assert mended_too_soon.status_code == 303
        await worker.publish_pending()  # the cause is still there: it fails again, tried afresh
        assert (await publication_status(client, staff))["publications"][0]["attempts"] == 1

        await mend_adoption(app, first["adoption_id"], right)
        clock.advance(hours=2)
        await worker.run_once()
        newest, oldest = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
        assert (newest["version"], oldest["version"]) == (1, 2) and newest["text"] == TEXT
        assert feed_urns(subscriber.accepted()[-1].body) == [newest["urn"], oldest["urn"]]
        assert (await publication_status(client, staff))["publications"] == []
        assert "Every adoption has been published." in (await client.get("/clearinghouse/staff/publication")).text

        retried = (await client.get("/api/v1/audit", params={"action": "clearinghouse.publication_retried"})).json()["items"]
        assert [event["target_id"] for event in retried] == [first["adoption_id"]]
    finally:
        await broken.stop()


async def test_only_staff_see_and_retry_publications_and_only_failed_ones_are_retried(client, app, council, clock, worker, staff, sign_up):
    first = await adopt(client, council, clock)
    right = await break_adoption(app, first["adoption_id"])
    for _ in range(ATTEMPTS):
        await worker.publish_pending()
        clock.advance(hours=2)
    [failed] = (await publication_status(client, staff))["publications"]
    assert failed["status"] == "failed"

    someone = await sign_up("Someone")
    assert (await client.get("/api/v1/clearinghouse/publication", headers=someone["headers"])).status_code == 403
    refused = await client.post(f"/api/v1/clearinghouse/publication/{failed['event_id']}/retry", headers=someone["headers"])
    assert refused.status_code == 403
    as_browser(client, someone)
    assert (await client.get("/clearinghouse/staff/publication")).status_code == 403

    await mend_adoption(app, first["adoption_id"], right)
    retried = await client.post(f"/api/v1/clearinghouse/publication/{failed['event_id']}/retry", headers=staff["headers"])
    assert retried.status_code == 204
    again = await client.post(f"/api/v1/clearinghouse/publication/{failed['event_id']}/retry", headers=staff["headers"])
    assert again.status_code == 404 and again.json()["code"] == "publication_not_failed"
    assert await worker.publish_pending() == 1
    assert (await publication_status(client, staff))["publications"] == []


async def test_staff_see_each_failing_subscriber_once_until_it_accepts_again(client, app, council, clock, worker, staff):
    healthy, broken = await Subscriber().start(), await Subscriber(default_status=500).start()
    try:
        await subscribed(client, worker, healthy.url("/ok"))
        await subscribed(client, worker, broken.url("/hooks"))
        await adopt(client, council, clock)
        await worker.run_once()
        await adopt_a_second_version(client, council, clock)
        await worker.run_once()
        clock.advance(hours=1)
        await worker.deliver_due()
        assert len(healthy.accepted()) == 2 and broken.accepted() == []

        [failing] = (await publication_status(client, staff))["subscribers"]
        assert (failing["callback"], failing["state"], failing["last_delivered_at"]) == (broken.url("/hooks"), "active", None)
        assert failing["retrying"] == 1 and failing["failed_attempts"] >= 2 and failing["last_status_code"] == 500
        assert "answered 500" in failing["last_error"] and failing["last_attempt_at"] is not None
        as_browser(client, staff)
        page = html.unescape((await client.get("/clearinghouse/staff/publication")).text)
        section = page.split("Subscribers failing", 1)[1].split("WebSub deliveries that failed", 1)[0]
        assert broken.url("/hooks") in section and healthy.url("/ok") not in section
        assert "1 being retried" in section and "the callback answered 500" in section and "never" in section

        broken.default_status = 204
        clock.advance(hours=2)
        await worker.deliver_due()
        assert (await publication_status(client, staff))["subscribers"] == []
        assert "Every subscriber accepts its deliveries." in (await client.get("/clearinghouse/staff/publication")).text
    finally:
        await healthy.stop()
        await broken.stop()
