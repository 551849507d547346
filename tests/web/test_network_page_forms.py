"""The network page's forms without a browser: starting a norm, applying to join and deciding an application come
back on the network page when refused, with the message beside the field (and in the summary at the top) and what
was typed kept, never as a flash message after a redirect."""

from __future__ import annotations

import re

from tests.web.test_ballot_pages import _csrf, browser


def _message(html: str, field_id: str) -> str:
    return re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', html, re.S).group(1)


def _summary(html: str) -> str:
    return html.split('class="error-summary"')[1].split("</div>")[0]


async def test_starting_a_norm_without_a_title_keeps_the_draft(app, council):
    amina = council["members"][0]
    page_path = f"/networks/{council['slug']}"
    async with browser(app, amina) as member:
        page = await member.get(page_path)
        refused = await member.post(
            f"{page_path}/norms",
            data={"csrf_token": _csrf(page.text), "title": "   ", "text": "Platforms publish <b>every</b> ranking signal."},
        )
    assert refused.status_code == 422
    assert '<details class="panel" id="start-norm" open>' in refused.text
    assert "needs a title" in _message(refused.text, "norm-title")
    assert 'aria-invalid="true"' in refused.text.split('id="norm-title"', 1)[1].split(">", 1)[0]
    assert ">Platforms publish &lt;b&gt;every&lt;/b&gt; ranking signal.</textarea>" in refused.text
    assert 'href="#norm-title"' in _summary(refused.text)


async def test_starting_a_norm_with_a_too_long_title_keeps_both_fields(app, council):
    amina = council["members"][0]
    page_path = f"/networks/{council['slug']}"
    async with browser(app, amina) as member:
        page = await member.get(page_path)
        refused = await member.post(f"{page_path}/norms", data={"csrf_token": _csrf(page.text), "title": "T" * 301, "text": "Draft kept."})
    assert refused.status_code == 422
    assert "up to 300 characters" in _message(refused.text, "norm-title") and "/api/" not in _summary(refused.text)
    assert f'value="{"T" * 301}"' in refused.text and ">Draft kept.</textarea>" in refused.text


async def _by_application(client, affiliated, found) -> tuple[dict, dict, str]:
    convener = await affiliated("government", "NG", name="Convener")
    applicant = await affiliated("civil_society", "BR", name="Applicant", organisation="Nupef")
    network = await found(convener, membership_policy="by_application")
    return convener, applicant, f"/networks/{network['slug']}"


async def test_applying_with_a_too_long_motivation_keeps_what_was_written(app, client, affiliated, found):
    _, applicant, page_path = await _by_application(client, affiliated, found)
    motivation = "I run route filtering at an IXP. " * 130  # over the 4000 characters allowed
    async with browser(app, applicant) as person:
        page = await person.get(page_path)
        refused = await person.post(f"{page_path}/join", data={"csrf_token": _csrf(page.text), "motivation": motivation})
        after = await person.get(page_path)
    assert refused.status_code == 422
    assert _message(refused.text, "motivation")
    assert 'aria-describedby="motivation-error" aria-invalid="true"' in refused.text
    assert f">{motivation}</textarea>" in refused.text
    assert 'href="#motivation"' in _summary(refused.text)
    assert "You applied on" not in after.text  # nothing was sent


async def test_deciding_an_application_already_decided_says_so_on_the_page(app, client, affiliated, found):
    convener, applicant, page_path = await _by_application(client, affiliated, found)
    applied = await client.post(f"/api/v1{page_path}/join", json={"motivation": "Please."}, headers=applicant["headers"])
    assert applied.status_code in (201, 202), applied.text
    async with browser(app, convener) as person:
        page = await person.get(page_path)
        application = re.search(r"/applications/([0-9a-f-]+)/approve", page.text).group(1)
        token = _csrf(page.text)
        assert (await person.post(f"{page_path}/applications/{application}/approve", data={"csrf_token": token})).status_code == 303
        refused = await person.post(f"{page_path}/applications/{application}/decline", data={"csrf_token": token})
    assert refused.status_code == 409
    summary = _summary(refused.text)
    assert "already approved" in summary and "/api/" not in summary
