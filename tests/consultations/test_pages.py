"""Consultation pages: without JavaScript, the page with marked passages and the summary, the norm page's comment sidebar,
forms; in Chromium, the norm page's comments beside their passages, following live edits, detached when a passage is deleted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from playwright.sync_api import expect

from norms.anchoring import AnchorInvalid, locate
from services.web.consultations import lines
from tests.fixtures.accounts import affiliate
from tests.fixtures.norms import TEXT
from tests.fixtures.web import WAIT_MS, axe_violations, describe, open_editor, shoot, sign_in
from tests.web.test_pages import _csrf, _sign_up


async def test_the_consultation_page_marks_passages_and_the_norm_page_shows_comments_beside_the_text(
    client, council, consultation, sign_up, clock
):
    reader = await affiliate(client, await sign_up("Reader"), "government", "FR", "Ministère")
    start = TEXT.index("ranking")
    made = await client.post(
        f"/api/v1/consultations/{consultation['id']}/comments",
        json={"body": "Which criteria exactly?", "anchor": {"start": start, "end": start + 7}},
        headers=reader["headers"],
    )
    assert made.status_code == 201, made.text
    page = await client.get(f"/consultations/{consultation['id']}")
    assert page.status_code == 200
    assert f'<mark class="anchored" id="passage-{made.json()["id"]}"' in page.text and ">ranking</mark>" in page.text
    assert "Which criteria exactly?" in page.text and "Ministère" in page.text
    network_name = (await client.get(f"/api/v1/networks/{council['slug']}")).json()["name"]
    assert f'<a href="/networks/{council["slug"]}">{network_name}</a>' in page.text  # the breadcrumb names the network
    home = await client.get("/clearinghouse")
    assert 'href="/consultations/' + consultation["id"] + '"' in home.text and "/feeds/consultations.atom" in home.text

    member = council["members"][1]
    await client.post(
        f"/api/v1/norms/{council['norm']['id']}/edits", json={"splices": [{"index": 0, "insert": "All "}]}, headers=member["headers"]
    )
    norm_page = await client.get(f"/networks/{council['slug']}/norms/{council['norm']['slug']}")
    assert 'id="comment-sidebar"' in norm_page.text
    assert f'data-passage-start="{start + 4}" data-passage-end="{start + 11}"' in norm_page.text

    clock.advance(timedelta(days=20))
    closed = await client.get(f"/consultations/{consultation['id']}")
    assert re.search(r'id="summary-total">1<', closed.text) and re.search(r'id="summary-open">1<', closed.text)
    assert "Publish comment" not in closed.text


@given(
    st.text(alphabet="ab\n\u00e9\U0001f600", max_size=40),
    st.lists(st.tuples(st.integers(0, 40), st.integers(1, 20)), max_size=4),
)
def test_the_text_s_lines_put_back_together_are_the_text_and_each_line_knows_its_range(text, marks):
    anchored = [(start, min(start + length, len(text)), f"c{n}") for n, (start, length) in enumerate(marks) if start < len(text)]
    cut = lines(text, anchored)
    assert "\n".join("".join(piece["text"] for piece in line["pieces"]) for line in cut) == text
    for line in cut:
        assert text[line["start"] : line["end"]] == "".join(piece["text"] for piece in line["pieces"])


def test_typed_words_are_found_once_or_refused_with_a_reason():
    assert locate("  route origins ", "Sign route origins.", 1) == (5, 18)
    with pytest.raises(AnchorInvalid, match="not in the text of v2"):
        locate("routes", "Sign route origins.", 2)
    with pytest.raises(AnchorInvalid, match="appear 2 times"):
        locate("o", "to go", 1)


async def test_comment_form_without_javascript(client, council, consultation):
    await _sign_up(client, "Form Person")
    token = _csrf((await client.get("/me/affiliation")).text)
    await client.post("/me/affiliation", data={"csrf_token": token, "stakeholder_group": "civil_society", "country": "KE"})
    page = await client.get(f"/consultations/{consultation['id']}")
    posted = await client.post(
        f"/consultations/{consultation['id']}/comments",
        data={"csrf_token": _csrf(page.text), "body": "Plain comment", "start": "0", "end": "9"},
    )
    assert posted.status_code == 303
    comments = (await client.get(f"/api/v1/consultations/{consultation['id']}/comments")).json()
    assert [(c["body"], c["anchor"]["quote"]) for c in comments] == [("Plain comment", "Platforms")]
    refused = await client.post(f"/comments/{comments[0]['id']}/reply", data={"csrf_token": _csrf(page.text), "body": "me"})
    assert refused.status_code == 403  # not a member: said on the page, in the summary at the top
    assert "error-summary" in refused.text and "/api/" not in refused.text.split('class="error-summary"')[1].split("</div>")[0]
    assert (await client.get(f"/api/v1/consultations/{consultation['id']}/comments")).json()[0]["replies"] == []


async def test_the_norm_page_marks_passages_in_its_plain_text_and_shows_a_deleted_ones_comment_detached(
    client, council, consultation, sign_up
):
    reader = await affiliate(client, await sign_up("Reader"))
    made = {}
    for passage in ("ranking", "criteria"):
        start = TEXT.index(passage)
        response = await client.post(
            f"/api/v1/consultations/{consultation['id']}/comments",
            json={"body": f"<img src=x onerror=alert(1)> on {passage}", "anchor": {"start": start, "end": start + len(passage)}},
            headers=reader["headers"],
        )
        assert response.status_code == 201, response.text
        made[passage] = response.json()["id"]
    member = council["members"][1]
    edits = f"/api/v1/norms/{council['norm']['id']}/edits"
    hostile = "<script>alert(1)</script> "
    assert (await client.post(edits, json={"splices": [{"index": 0, "insert": hostile}]}, headers=member["headers"])).status_code == 200
    at = len(hostile) + TEXT.index(" criteria")
    assert (
        await client.post(edits, json={"splices": [{"index": at, "delete": len(" criteria")}]}, headers=member["headers"])
    ).status_code == 200

    page = (await client.get(f"/networks/{council['slug']}/norms/{council['norm']['slug']}")).text
    ranking, criteria = made["ranking"], made["criteria"]
    assert f'<mark class="anchored" id="passage-{ranking}" data-comment="{ranking}">ranking</mark>' in page
    assert f'id="passage-{criteria}"' not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt; on criteria" in page
    item = re.search(rf'<li class="comment" id="comment-{criteria}"[^>]*>(.*?)</li>', page, re.S)
    assert 'data-anchor="detached"' in item.group(0)
    assert '<p class="detached-note"><strong>Detached:</strong>' in item.group(1)
    assert re.search(r'<button [^>]*data-passage="[^"]+"[^>]* hidden>Show passage', item.group(1))
    kept = re.search(rf'<li class="comment" id="comment-{ranking}"[^>]*>(.*?)</li>', page, re.S)
    assert 'data-anchor="attached"' in kept.group(0) and '<p class="detached-note" hidden>' in kept.group(1)


# --- In Chromium: the norm page's comments beside the text, following live edits ------------------------------------

LIVE_TEXT = "Operators 🌍 sign their route origins. Invalid </script><routes> are dropped & logged."


def _consulted_norm(live, text: str = LIVE_TEXT, passages: tuple[str, ...] = ("route origins",)) -> dict:
    """A norm whose v1 is open for comment, with one outsider's comment anchored on each passage (code points, as the API counts)."""
    convener = live.person("Cora Convener", group="civil_society", country="KE")
    member = live.person("Mateo Member", group="private_sector", country="BR")
    outsider = live.person("Gustave Gov", group="government", country="FR", organisation="Ministère")
    network = live.network(convener, member)
    norm = live.norm(convener, network, "Route origin validation", text)
    assert live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "v1"}, headers=convener["headers"]).status_code == 201
    closes = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    opened = live.api.post(
        f"/api/v1/norms/{norm['id']}/consultations",
        json={"version": 1, "closes_at": closes, "question": "Clear?"},
        headers=convener["headers"],
    )
    assert opened.status_code == 201, opened.text
    comments = []
    for index, passage in enumerate(passages):
        start = text.index(passage)
        made = live.api.post(
            f"/api/v1/consultations/{opened.json()['id']}/comments",
            json={
                "body": f"Comment {index + 1} on <b>{passage}</b>",
                "anchor": {"start": start, "end": start + len(passage), "quote": passage},
            },
            headers=outsider["headers"],
        )
        assert made.status_code == 201, made.text
        comments.append(made.json()["id"])
    return {"norm": norm, "member": member, "outsider": outsider, "comments": comments}


def _highlight(page, comment_id: str):
    return page.locator(f'#editor .cm-anchored[data-comment="{comment_id}"]')


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.evaluate(
        "e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }"
    )


@pytest.mark.browser
def test_highlights_follow_another_browsers_live_edits_and_a_deleted_passage_leaves_its_comment_detached(live_server, new_page):
    live = live_server
    made = _consulted_norm(live, passages=("route origins", "</script><routes>"))
    comment, markup = made["comments"]
    writer, reader = new_page(), new_page()
    sign_in(writer, live, made["member"])
    sign_in(reader, live, made["outsider"])
    for page in (writer, reader):
        open_editor(page, made["norm"]["page"])
        # The emoji before the passage counts once for the server and twice for the browser: still the same words.
        expect(_highlight(page, comment)).to_have_text("route origins", timeout=WAIT_MS)
    # A passage that looks like markup is text: in the page's editor settings, in the highlight and in the column.
    expect(_highlight(reader, markup)).to_have_text("</script><routes>")
    expect(reader.locator(f"#comment-{markup} .passage-now")).to_have_text("</script><routes>")
    item = reader.locator(f"#comment-{comment}")
    expect(item).to_have_attribute("data-anchor", "attached")
    expect(item).to_contain_text("Comment 1 on <b>route origins</b>")  # the body is text, not markup

    # The member types before the passage: the reader's highlight moves with the words.
    writer.click("#editor .cm-content")
    writer.keyboard.press("Control+Home")
    writer.keyboard.type("All ")
    expect(reader.locator("#editor .cm-content")).to_contain_text("All Operators", timeout=WAIT_MS)
    expect(_highlight(reader, comment)).to_have_text("route origins", timeout=WAIT_MS)
    place = reader.evaluate(f"() => window.cogovEditor.anchors.state()['{comment}']")
    assert reader.evaluate(f"() => window.cogovEditor.view.state.sliceDoc({place['from']}, {place['to']})") == "route origins"

    # Then inside it: the passage grows to hold the new word, and its comment says it was edited.
    at = writer.evaluate("() => window.cogovEditor.view.state.doc.toString().indexOf('origins')")
    writer.evaluate(f"() => window.cogovEditor.view.dispatch({{selection: {{anchor: {at}}}}})")
    writer.keyboard.type("prefix ")
    expect(_highlight(reader, comment)).to_have_text("route prefix origins", timeout=WAIT_MS)
    expect(item.locator(".passage-now")).to_have_text("route prefix origins")
    expect(item.locator(".passage-was")).to_be_visible()
    shoot(reader, "norm-comments-live")

    # The member deletes the passage: both browsers keep the comment, marked detached, with nothing highlighted.
    writer.locator(f"#comment-{comment}").get_by_role("button", name="Show passage").click()
    assert (
        writer.evaluate("() => { const s = window.cogovEditor.view.state, r = s.selection.main; return s.sliceDoc(r.from, r.to); }")
        == "route prefix origins"
    )
    writer.keyboard.press("Backspace")
    for page in (reader, writer):
        expect(page.locator("#editor .cm-content")).to_contain_text("sign their . Invalid", timeout=WAIT_MS)
        expect(_highlight(page, markup)).to_have_text("</script><routes>")
        expect(page.locator(f"#comment-{comment}")).to_have_attribute("data-anchor", "detached", timeout=WAIT_MS)
        expect(page.locator(f"#comment-{comment} .detached-note")).to_be_visible()
        expect(page.locator(f"#comment-{comment}")).to_contain_text("Comment 1 on <b>route origins</b>")
        expect(_highlight(page, comment)).to_have_count(0)
        expect(page.locator(f"#comment-{comment}").get_by_role("button", name="Show passage")).to_be_hidden()
    live.wait_for_text(made["norm"], "All Operators 🌍 sign their . Invalid </script><routes> are dropped & logged.")

    # A page loaded afresh after the deletion says what the live pages said.
    fresh = new_page()
    open_editor(fresh, made["norm"]["page"])
    expect(fresh.locator(f"#comment-{comment}")).to_have_attribute("data-anchor", "detached")
    expect(fresh.locator("#editor .cm-anchored")).to_have_text(["</script><routes>"], timeout=WAIT_MS)


@pytest.mark.browser
def test_the_comments_sit_beside_their_passages_on_a_wide_screen_and_below_the_text_on_a_narrow_one(live_server, new_page):
    paragraphs = [f"Paragraph {n}: operators keep records of their announcements for audit." for n in range(1, 25)]
    text = "\n\n".join(paragraphs)
    made = _consulted_norm(live_server, text, passages=("Paragraph 3:", "Paragraph 18:"))
    first, second = made["comments"]
    page = new_page(viewport={"width": 1280, "height": 900})
    open_editor(page, made["norm"]["page"])
    # The editor draws the lines near the window: bring its end into view, where paragraph 18 is.
    page.locator("#editor").evaluate("element => element.scrollIntoView({block: 'end'})")
    expect(_highlight(page, second)).to_have_text("Paragraph 18:", timeout=WAIT_MS)

    # Wide: the panel is a column to the right of the text, each comment level with its passage.
    editor, panel = _box(page, "#editor"), _box(page, "#comment-sidebar")
    assert panel["left"] >= editor["right"] and panel["top"] < editor["bottom"]
    level = f"""() => {{
        const item = document.getElementById('comment-{second}').getBoundingClientRect();
        const passage = document.querySelector('#editor .cm-anchored[data-comment="{second}"]').getBoundingClientRect();
        return Math.abs(item.top - passage.top) <= 2;
    }}"""
    page.wait_for_function(level, timeout=WAIT_MS)
    for comment in (first, second):
        item, passage = _box(page, f"#comment-{comment}"), _box(page, f'#editor .cm-anchored[data-comment="{comment}"]')
        assert item["top"] >= passage["top"] - 1, (comment, item, passage)
    item, passage = _box(page, f"#comment-{second}"), _box(page, f'#editor .cm-anchored[data-comment="{second}"]')
    assert abs(item["top"] - passage["top"]) <= 2, (item, passage)
    shoot(page, "norm-comments-wide")
    violations = axe_violations(page)
    assert violations == [], describe(violations)

    # A comment's button takes the reader to its passage.
    page.locator(f"#comment-{second}").get_by_role("button", name="Show passage").click()
    assert (
        page.evaluate("() => { const s = window.cogovEditor.view.state, r = s.selection.main; return s.sliceDoc(r.from, r.to); }")
        == "Paragraph 18:"
    )

    # Narrow: the panel comes after the text, full width, the comments one after another.
    page.set_viewport_size({"width": 500, "height": 900})
    page.wait_for_function(f"() => document.getElementById('comment-{second}').style.marginTop === ''", timeout=WAIT_MS)
    editor, panel = _box(page, "#editor"), _box(page, "#comment-sidebar")
    assert panel["top"] >= editor["bottom"] and abs(panel["left"] - editor["left"]) <= 20
    first_item, second_item = _box(page, f"#comment-{first}"), _box(page, f"#comment-{second}")
    assert 0 <= second_item["top"] - first_item["bottom"] <= 40
    shoot(page, "norm-comments-narrow")
