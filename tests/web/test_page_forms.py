"""The norm page's forms without a browser: a refused form comes back open on the page, with what was typed and
the message beside its field, never an API address or a raw timestamp."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.web.test_ballot_pages import _csrf, browser, norm_page

ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _message(html: str, field_id: str) -> str:
    return re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', html, re.S).group(1)


async def test_tagging_a_version_without_a_label_keeps_the_note(app, council):
    amina = council["members"][0]
    async with browser(app, amina) as member:
        page = await member.get(norm_page(council))
        refused = await member.post(
            f"{norm_page(council)}/versions", data={"csrf_token": _csrf(page.text), "label": "  ", "note": "Second reading, as agreed."}
        )
    assert refused.status_code == 422
    assert '<details class="panel" id="tag-version" open>' in refused.text
    assert "A version needs a label" in _message(refused.text, "version-label")
    assert ">Second reading, as agreed.</textarea>" in refused.text
    assert 'class="error-summary"' in refused.text and 'href="#version-label"' in refused.text


async def test_a_plain_edit_with_a_refused_title_keeps_the_text_typed(app, council):
    amina = council["members"][0]
    async with browser(app, amina) as member:
        page = await member.get(norm_page(council))
        heads = re.search(r'name="base_heads" value="([^"]*)"', page.text).group(1)
        refused = await member.post(
            f"{norm_page(council)}/edit",
            data={"csrf_token": _csrf(page.text), "base_heads": heads, "title": "x" * 301, "text": "A whole new text, typed with care."},
        )
    assert refused.status_code == 422
    assert '<details class="panel" id="plain-edit" open>' in refused.text
    assert _message(refused.text, "edit-title")
    assert ">A whole new text, typed with care.</textarea>" in refused.text


async def test_opening_a_consultation_in_the_past_says_so_in_words_and_keeps_the_question(app, council, clock):
    amina = council["members"][0]
    async with browser(app, amina) as convener:
        page = await convener.get(norm_page(council))
        yesterday = (clock.now() - timedelta(days=1)).date().isoformat()
        refused = await convener.post(
            f"/norms/{council['norm']['id']}/consultations",
            data={"csrf_token": _csrf(page.text), "version": "1", "closes_at": yesterday, "question": "Is this clear?"},
        )
    assert refused.status_code == 422
    assert '<details class="panel" id="open-consultation" open>' in refused.text
    said = _message(refused.text, "consultation-closes")
    assert "in the future" in said and "closes_at" not in said and not ISO_MOMENT.search(said)
    assert f'value="{yesterday}"' in refused.text and ">Is this clear?</textarea>" in refused.text
    summary = refused.text.split('class="error-summary"')[1].split("</div>")[0]
    assert "in the future" in summary and "/api/" not in summary
