"""The drafting stage on the norm page without JavaScript: threads, mentions, suggestions with their marks, a
sense check's page saying what a ballot would still miss; and the discussion's poll answering 304 while unchanged."""

from __future__ import annotations

import re

from tests.fixtures.norms import TEXT
from tests.web.test_ballot_pages import _csrf, browser, squash


def _norm_path(council) -> str:
    return f"/networks/{council['slug']}/norms/{council['norm']['slug']}"


async def test_discussing_and_suggesting_with_forms(app, council):
    amina, bruno, *_ = council["members"]
    path = _norm_path(council)
    async with browser(app, bruno) as member:
        page = await member.get(path)
        assert page.status_code == 200 and 'id="discussion"' in page.text and "No discussion yet." in page.text
        token = _csrf(page.text)
        # A passage that is not in the text comes back with the form open and what was written kept.
        refused = await member.post(
            f"/norms/{council['norm']['id']}/threads", data={"csrf_token": token, "quote": "Companies", "body": "Hm"}
        )
        assert refused.status_code == 422 and "not in the current text" in refused.text and ">Hm</textarea>" in refused.text
        started = await member.post(
            f"/norms/{council['norm']['id']}/threads",
            data={"csrf_token": token, "quote": "ranking criteria", "body": "Which ones, @Amina?"},
        )
        assert started.status_code == 303
        page = await member.get(path)
        thread = re.search(r'id="thread-([0-9a-f-]+)"', page.text).group(1)
        assert '“<span class="passage-now">ranking criteria</span>”' in page.text
        assert re.search(r'Which ones, <a class="mention" href="/networks/[^"]+#roster" data-participant="[^"]+">@Amina</a>\?', page.text)
        made = await member.post(
            "/norms/{}/suggestions".format(council["norm"]["id"]),
            data={"csrf_token": token, "quote": "ranking criteria", "replacement": "recommender criteria"},
        )
        assert made.status_code == 303
    async with browser(app, amina) as convener:
        page = await convener.get(path)
        token = _csrf(page.text)
        assert "<del>ranking</del><ins>recommender</ins><span> criteria</span>" in page.text
        suggestion = re.search(r'id="suggestion-([0-9a-f-]+)"', page.text).group(1)
        replied = await convener.post(f"/threads/{thread}/reply", data={"csrf_token": token, "body": "The main ones."})
        assert replied.status_code == 303
        accepted = await convener.post(f"/suggestions/{suggestion}/accept", data={"csrf_token": token})
        assert accepted.status_code == 303
        page = squash((await convener.get(path)).text)
        assert "Accepted by Amina" in page and "The main ones." in page
        assert TEXT.replace("ranking criteria", "recommender criteria") in page
        history = squash((await convener.get(path + "/history")).text)
        assert "a suggestion of Bruno, accepted by Amina" in history
        assert "<strong>Bruno</strong> suggested “recommender criteria” for “ranking criteria”: accepted by Amina" in history


async def test_the_discussion_poll_answers_304_until_something_changes(client, app, council):
    url = _norm_path(council) + "/discussion"
    first = await client.get(url)
    assert first.status_code == 200 and first.headers["etag"]
    assert (await client.get(url, headers={"If-None-Match": first.headers["etag"]})).status_code == 304
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/threads", json={"body": "New thought"}, headers=council["members"][1]["headers"]
    )
    assert opened.status_code == 201
    changed = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and "New thought" in changed.text and changed.headers["etag"] != first.headers["etag"]


async def test_a_sense_check_page_says_what_a_ballot_would_still_miss(app, council):
    amina, bruno, *_ = council["members"]
    async with browser(app, amina) as convener:
        page = await convener.get(_norm_path(council))
        asked = await convener.post(
            f"/norms/{council['norm']['id']}/sense-checks", data={"csrf_token": _csrf(page.text), "question": "Ready?", "version": "1"}
        )
        assert asked.status_code == 303
        where = asked.headers["location"]
    async with browser(app, bruno) as member:
        page = await member.get(where)
        token = _csrf(page.text)
        refused = await member.post(
            where.rsplit("/sense-checks/", 1)[0].split("/norms/")[0] and f"/sense-checks/{where.rsplit('/', 1)[1]}/answer",
            data={"csrf_token": token, "answer": "disagree", "reason": ""},
        )
        assert refused.status_code == 422 and "Disagreeing needs a reason" in refused.text
        done = await member.post(f"/sense-checks/{where.rsplit('/', 1)[1]}/answer", data={"csrf_token": token, "answer": "agree"})
        assert done.status_code == 303
        page = squash((await member.get(where)).text)
    assert "would not pass now" in page
    assert "What is still missing" in page and "Civil society" in page
    assert "1 of 4 members have answered." in page
