"""The curation page's forms without a browser: a refused topic or collection comes back on the page with the
message beside the field (and in the summary at the top) and what was typed kept, never as a flash after a redirect."""

from __future__ import annotations

import re

from tests.clearinghouse.test_pages import _csrf, as_browser


def _message(html: str, field_id: str) -> str:
    return re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', html, re.S).group(1)


def _summary(html: str) -> str:
    return html.split('class="error-summary"')[1].split("</div>")[0]


async def test_a_topic_without_a_label_keeps_its_description(client, staff):
    as_browser(client, staff)
    page = await client.get("/clearinghouse/staff")
    refused = await client.post(
        "/clearinghouse/staff/topics", data={"csrf_token": _csrf(page.text), "label": "", "description": "Who ranks what, and why."}
    )
    assert refused.status_code == 422
    assert _message(refused.text, "topic-label")
    assert 'aria-describedby="topic-label-error" aria-invalid="true"' in refused.text
    assert ">Who ranks what, and why.</textarea>" in refused.text
    assert 'href="#topic-label"' in _summary(refused.text)


async def test_a_topic_whose_label_is_taken_says_so_beside_the_label(client, staff):
    as_browser(client, staff)
    page = await client.get("/clearinghouse/staff")
    data = {"csrf_token": _csrf(page.text), "label": "Platform accountability", "description": "Second try."}
    assert (await client.post("/clearinghouse/staff/topics", data=data)).status_code == 303
    refused = await client.post("/clearinghouse/staff/topics", data=data)
    assert refused.status_code == 409
    assert _message(refused.text, "topic-label") and "/api/" not in _summary(refused.text)
    assert 'value="Platform accountability"' in refused.text and ">Second try.</textarea>" in refused.text


async def test_a_collection_with_a_too_long_title_keeps_both_fields(client, staff):
    as_browser(client, staff)
    page = await client.get("/clearinghouse/staff")
    title = "Starter kit " * 20  # over the 200 characters allowed
    refused = await client.post(
        "/clearinghouse/staff/collections", data={"csrf_token": _csrf(page.text), "title": title, "description": "For newcomers."}
    )
    assert refused.status_code == 422
    assert _message(refused.text, "collection-title")
    assert f'value="{title}"' in refused.text and ">For newcomers.</textarea>" in refused.text


async def test_curation_with_a_too_long_summary_keeps_the_summary_and_the_ticks(client, staff, published):
    entry = published["entry"]
    as_browser(client, staff)
    page = await client.get(f"/clearinghouse/staff/entries/{entry['id']}")
    summary = "What platforms must publish about ranking. " * 120  # over the 5000 characters allowed
    refused = await client.post(
        f"/clearinghouse/staff/entries/{entry['id']}", data={"csrf_token": _csrf(page.text), "summary": summary, "featured": "on"}
    )
    assert refused.status_code == 422
    assert _message(refused.text, "summary")
    assert 'aria-describedby="summary-hint summary-error" aria-invalid="true"' in refused.text
    assert f">{summary}</textarea>" in refused.text
    assert '<input type="checkbox" name="featured" checked>' in refused.text
    assert 'href="#summary"' in _summary(refused.text)


async def test_curation_with_a_topic_that_is_gone_says_so_beside_the_topics(client, staff, published):
    entry = published["entry"]
    as_browser(client, staff)
    page = await client.get(f"/clearinghouse/staff/entries/{entry['id']}")
    data = {"csrf_token": _csrf(page.text), "summary": "Kept.", "topics": "no-such-topic"}
    refused = await client.post(f"/clearinghouse/staff/entries/{entry['id']}", data=data)
    assert refused.status_code == 422
    assert _message(refused.text, "topics") == "Unknown topic(s): no-such-topic" and "/api/" not in _summary(refused.text)
    assert ">Kept.</textarea>" in refused.text


async def test_a_collection_saved_without_a_title_keeps_the_entries_ticked(client, staff, published):
    entry = published["entry"]
    as_browser(client, staff)
    page = await client.get("/clearinghouse/staff")
    made = await client.post("/clearinghouse/staff/collections", data={"csrf_token": _csrf(page.text), "title": "Starter kit"})
    assert made.status_code == 303
    form = await client.get(made.headers["location"])
    data = {
        "csrf_token": _csrf(form.text),
        "title": "",
        "description": "For newcomers.",
        "entries": entry["id"],
        f"position-{entry['id']}": "1",
    }
    refused = await client.post(made.headers["location"], data=data)
    assert refused.status_code == 422
    assert _message(refused.text, "title")
    assert ">For newcomers.</textarea>" in refused.text
    assert f'name="entries" value="{entry["id"]}" checked>' in refused.text
    assert f'name="position-{entry["id"]}" inputmode="numeric" size="3" value="1">' in refused.text


async def test_retrying_a_publication_that_has_not_failed_says_so_on_the_page(client, staff, published):
    as_browser(client, staff)
    page = await client.get("/clearinghouse/staff/publication")
    refused = await client.post("/clearinghouse/staff/publication/987654/retry", data={"csrf_token": _csrf(page.text)})
    assert refused.status_code == 404 and "<h1>Publication</h1>" in refused.text
    summary = _summary(refused.text)
    assert "No failed publication" in summary and "/api/" not in summary
