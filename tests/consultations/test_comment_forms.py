"""The forms under a comment without a browser: a refused reply, mark, decline or hide comes back on the consultation
page with that comment's forms open, the message beside the field (and in the summary at the top) and what was typed
kept, never as a flash message after a redirect."""

from __future__ import annotations

import re

import pytest

from tests.web.test_ballot_pages import _csrf, browser


def _message(html: str, field_id: str) -> str:
    return re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', html, re.S).group(1)


def _summary(html: str) -> str:
    return html.split('class="error-summary"')[1].split("</div>")[0]


@pytest.fixture
async def comment(client, council, consultation) -> str:
    made = await client.post(
        f"/api/v1/consultations/{consultation['id']}/comments", json={"body": "Which criteria?"}, headers=council["members"][2]["headers"]
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def _refused(app, person: dict, consultation: dict, action: str, data: dict):
    async with browser(app, person) as member:
        page = await member.get(f"/consultations/{consultation['id']}")
        return await member.post(action, data={"csrf_token": _csrf(page.text)} | data)


async def test_an_empty_reply_says_so_beside_the_reply_field(app, council, consultation, comment):
    refused = await _refused(app, council["members"][1], consultation, f"/comments/{comment}/reply", {"body": ""})
    assert refused.status_code == 422
    assert _message(refused.text, f"reply-{comment}") == "Write your reply."
    assert f'aria-describedby="reply-{comment}-error" aria-invalid="true"' in refused.text
    assert f'href="#reply-{comment}"' in _summary(refused.text)
    assert refused.text.split(f'id="comment-{comment}"', 1)[1].split("<summary>", 1)[0].rstrip().endswith("open>")


async def test_a_too_long_reply_keeps_what_was_written(app, council, consultation, comment):
    body = "Ranking criteria. " * 600  # over the 10,000 characters allowed
    refused = await _refused(app, council["members"][1], consultation, f"/comments/{comment}/reply", {"body": body})
    assert refused.status_code == 422
    assert _message(refused.text, f"reply-{comment}")
    assert f">{body}</textarea>" in refused.text


async def test_declining_without_a_reason_asks_for_one_beside_the_field(app, council, consultation, comment):
    data = {"status": "declined", "reason": ""}
    refused = await _refused(app, council["members"][1], consultation, f"/comments/{comment}/resolve", data)
    assert refused.status_code == 422
    assert _message(refused.text, f"declined-{comment}") == "Give the reason for declining."


async def test_marking_addressed_in_a_version_that_does_not_exist_says_so_beside_the_version(app, council, consultation, comment):
    data = {"status": "addressed", "version": "9"}
    refused = await _refused(app, council["members"][1], consultation, f"/comments/{comment}/resolve", data)
    assert refused.status_code == 404
    assert _message(refused.text, f"addressed-{comment}") == "This norm has no version 9: choose one of its versions."
    assert "/api/" not in _summary(refused.text) and council["norm"]["id"] not in _summary(refused.text)


async def test_hiding_with_a_too_long_reason_keeps_the_reason(app, council, consultation, comment):
    reason = "Abusive. " * 230  # over the 2000 characters allowed
    refused = await _refused(app, council["convener"], consultation, f"/comments/{comment}/hide", {"reason": reason})
    assert refused.status_code == 422
    assert _message(refused.text, f"hide-{comment}")
    assert f'value="{reason}"' in refused.text
