"""Consultation pages without JavaScript: the page with marked passages and the summary, the norm page's comment sidebar, forms."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.consultations.conftest import TEXT, affiliate
from tests.web.test_pages import _csrf, _sign_up


async def test_the_consultation_page_marks_passages_and_the_norm_page_shows_comments_beside_the_text(client, council, consultation, sign_up, clock):
    reader = await affiliate(client, await sign_up("Reader"), "government", "FR", "Ministère")
    start = TEXT.index("ranking")
    made = await client.post(
        f"/api/v1/consultations/{consultation['id']}/comments",
        json={"body": "Which criteria exactly?", "anchor": {"start": start, "end": start + 7}}, headers=reader["headers"],
    )
    assert made.status_code == 201, made.text
    page = await client.get(f"/consultations/{consultation['id']}")
    assert page.status_code == 200
    assert f'<mark class="anchored" id="passage-{made.json()["id"]}"' in page.text and ">ranking</mark>" in page.text
    assert "Which criteria exactly?" in page.text and "Ministère" in page.text
    home = await client.get("/clearinghouse")
    assert 'href="/consultations/' + consultation["id"] + '"' in home.text and "/feeds/consultations.atom" in home.text

    member = council["members"][1]
    await client.post(f"/api/v1/norms/{council['norm']['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=member["headers"])
    norm_page = await client.get(f"/networks/{council['slug']}/norms/{council['norm']['slug']}")
    assert 'id="comment-sidebar"' in norm_page.text
    assert f'data-passage-start="{start + 4}" data-passage-end="{start + 11}"' in norm_page.text

    clock.advance(timedelta(days=20))
    closed = await client.get(f"/consultations/{consultation['id']}")
    assert re.search(r'id="summary-total">1<', closed.text) and re.search(r'id="summary-open">1<', closed.text)
    assert "Publish comment" not in closed.text


async def test_comment_form_without_javascript(client, council, consultation):
    await _sign_up(client, "Form Person")
    token = _csrf((await client.get("/me/affiliation")).text)
    await client.post("/me/affiliation", data={"csrf_token": token, "stakeholder_group": "civil_society", "country": "KE"})
    page = await client.get(f"/consultations/{consultation['id']}")
    posted = await client.post(
        f"/consultations/{consultation['id']}/comments", data={"csrf_token": _csrf(page.text), "body": "Plain comment", "start": "0", "end": "9"}
    )
    assert posted.status_code == 303
    comments = (await client.get(f"/api/v1/consultations/{consultation['id']}/comments")).json()
    assert [(c["body"], c["anchor"]["quote"]) for c in comments] == [("Plain comment", "Platforms")]
    refused = await client.post(f"/comments/{comments[0]['id']}/reply", data={"csrf_token": _csrf(page.text), "body": "me"})
    assert refused.status_code == 303
    assert (await client.get(f"/api/v1/consultations/{consultation['id']}/comments")).json()[0]["replies"] == []
