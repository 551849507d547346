"""In a real Chromium: a signed-in person follows the whole clearing house from its home page and a topic from the
topics page, sees each public follower count move, and unfollows; a visitor sees the counts without a button; in
French the button and the count read in French."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.fixtures.web import shoot, sign_in
from tests.web.test_staff_take_no_part import _make_staff

pytestmark = pytest.mark.browser


def _followers(live, target: str, key: str = "") -> int:
    counted = live.api.get("/api/v1/followers", params={"target": target, "key": key})
    assert counted.status_code == 200, counted.text
    return counted.json()["followers"]


def test_following_the_clearing_house_and_a_topic_from_their_pages(live_server, new_page):
    live = live_server
    staff = live.enrol_two_factor(live.person("Tomas Staff"))  # as staff must
    with ThreadPoolExecutor(1) as aside:  # Playwright's sync API holds this thread's event loop
        aside.submit(asyncio.run, _make_staff(live.settings.database_url, staff["email"])).result()
    slug = f"platform-ranking-{uuid.uuid4().hex[:6]}"
    made = live.api.post("/api/v1/clearinghouse/topics", json={"label": "Platform ranking", "slug": slug}, headers=staff["headers"])
    assert made.status_code == 201, made.text

    hana = live.person("Hana Follower")
    page = new_page()
    sign_in(page, live, hana)

    before = _followers(live, "clearinghouse")
    page.goto(live.url + "/clearinghouse")
    head = page.locator(".page-head .follow")
    expect(head).to_contain_text(f"{before} follower")
    head.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("status").first).to_contain_text("You follow it now")
    expect(page).to_have_url(live.url + "/clearinghouse")
    expect(head).to_contain_text(f"{before + 1} follower")
    expect(head.get_by_role("button", name="Unfollow")).to_be_visible()
    assert _followers(live, "clearinghouse") == before + 1
    shoot(page, "clearinghouse-followed")

    page.goto(live.url + "/clearinghouse/topics")
    topic = page.locator(f"dt#{slug} + dd .follow")
    expect(topic).to_contain_text("0 followers")
    expect(topic.get_by_role("button", name="Follow")).to_have_accessible_description(f"Platform ranking ({slug})")
    topic.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("status").first).to_contain_text("You follow it now")
    expect(page.locator(f"dt#{slug} + dd .follow")).to_contain_text("1 follower")
    assert _followers(live, "topic", slug) == 1
    followed = live.api.get("/api/v1/me/follows", headers=hana["headers"]).json()
    assert {(row["target"], row["key"]) for row in followed} == {("clearinghouse", ""), ("topic", slug)}
    shoot(page, "topic-followed")

    page.locator(f"dt#{slug} + dd .follow").get_by_role("button", name="Unfollow").click()
    expect(page.get_by_role("status").first).to_contain_text("You no longer follow it")
    expect(page.locator(f"dt#{slug} + dd .follow")).to_contain_text("0 followers")
    assert _followers(live, "topic", slug) == 0

    visitor = new_page()
    visitor.goto(live.url + "/clearinghouse/topics")
    expect(visitor.locator(f"dt#{slug} + dd .follow")).to_contain_text("0 followers")
    expect(visitor.locator(f"dt#{slug} + dd .follow").get_by_role("button")).to_have_count(0)
    visitor.goto(live.url + "/clearinghouse")
    expect(visitor.locator(".page-head .follow")).to_contain_text(f"{before + 1} follower")

    french = new_page()  # the button, the count and the answer in the reader's language
    sign_in(french, live, live.person("Inès Lectrice"))
    french.context.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9"})
    french.goto(live.url + "/clearinghouse/topics")
    expect(french.locator(f"dt#{slug} + dd .follow")).to_contain_text("0 abonné")
    french.locator(f"dt#{slug} + dd .follow").get_by_role("button", name="Suivre").click()
    expect(french.get_by_role("status").first).to_contain_text("Vous le suivez désormais")
    expect(french.locator(f"dt#{slug} + dd .follow")).to_contain_text("1 abonné")
    expect(french.locator(f"dt#{slug} + dd .follow").get_by_role("button", name="Ne plus suivre")).to_be_visible()
