"""A norm's discussion in a real Chromium: on a wide screen each thread sits beside its passage and stays level
with it while the text above grows; a thread opened elsewhere arrives without a reload and takes its place; a
reader without the live editor finds a thread's passage marked in the text."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.web import WAIT_MS, axe_violations, describe, open_editor, shoot, sign_in

pytestmark = pytest.mark.browser

PARAGRAPHS = [f"Paragraph {n}: operators keep records of their announcements for audit." for n in range(1, 41)]
TEXT = "\n\n".join(PARAGRAPHS)


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.evaluate(
        "e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }"
    )


def _level(page, thread: str) -> None:
    """Wait until the thread's item is level with its highlighted passage in the editor."""
    page.wait_for_function(
        f"""() => {{
            const item = document.getElementById('thread-{thread}');
            const passage = document.querySelector('#editor .cm-anchored[data-thread="{thread}"]');
            return item && passage && Math.abs(item.getBoundingClientRect().top - passage.getBoundingClientRect().top) <= 2;
        }}""",
        timeout=WAIT_MS,
    )


def _scroll_to(page, words: str) -> None:
    """Bring the editor's line with these words into view (the editor draws only the lines near the window)."""
    page.evaluate(
        """words => {
            const view = window.cogovEditor.view;
            view.dispatch({selection: {anchor: view.state.doc.toString().indexOf(words)}, scrollIntoView: true});
        }""",
        words,
    )


def test_threads_sit_beside_their_passages_follow_edits_and_arrive_live(live_server, new_page):
    live = live_server
    ana = live.person("Ana Writer", group="civil_society", country="KE", organisation="Net Rights Africa")
    ben = live.person("Ben Editor", group="private_sector", country="BR", organisation="Rede Aberta")
    network = live.network(ana, ben)
    norm = live.norm(ana, network, "Announcement records", TEXT)

    def open_thread(words: str, body: str) -> str:
        text = live.text_of(norm)
        start = text.index(words)
        made = live.api.post(
            f"/api/v1/norms/{norm['id']}/threads",
            json={"body": body, "anchor": {"start": start, "end": start + len(words), "quote": words}},
            headers=ana["headers"],
        )
        assert made.status_code == 201, made.text
        return made.json()["id"]

    first = open_thread("Paragraph 18:", "Should eighteen keep the audit clause?")

    page = new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live, ben)
    open_editor(page, norm["page"])
    _scroll_to(page, "Paragraph 18:")
    highlight = page.locator(f'#editor .cm-anchored[data-thread="{first}"]')
    expect(highlight).to_have_text("Paragraph 18:", timeout=WAIT_MS)

    # Wide: the discussion is a column to the right of the text, the thread level with its passage.
    editor, discussion = _box(page, "#editor"), _box(page, "#discussion")
    assert discussion["left"] >= editor["right"] and discussion["top"] < editor["bottom"]
    _level(page, first)
    shoot(page, "norm-threads-beside")
    violations = axe_violations(page)
    assert violations == [], describe(violations)

    # Text added above the passage: the highlight follows its words and the thread moves down with them.
    before = _box(page, f"#thread-{first}")["top"]
    added = live.api.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": 0, "insert": "Preamble: why records matter.\n\nScope: every operator.\n\n"}]},
        headers=ana["headers"],
    )
    assert added.status_code == 200, added.text
    expect(page.locator("#editor .cm-content")).to_contain_text("Scope: every operator.", timeout=WAIT_MS)
    expect(highlight).to_have_text("Paragraph 18:")
    _level(page, first)
    assert _box(page, f"#thread-{first}")["top"] > before

    # A thread opened elsewhere arrives with the discussion's refresh and sits beside its own passage.
    second = open_thread("Paragraph 36:", "Thirty-six repeats nineteen.")
    expect(page.locator(f"#thread-{second}")).to_contain_text("Thirty-six repeats nineteen.", timeout=WAIT_MS)
    _scroll_to(page, "Paragraph 36:")
    expect(page.locator(f'#editor .cm-anchored[data-thread="{second}"]')).to_have_text("Paragraph 36:", timeout=WAIT_MS)
    _level(page, second)
    _level(page, first)

    # Its button selects the passage in the editor.
    page.locator(f"#thread-{second}").get_by_role("button", name="Show passage").click()
    selected = "() => { const s = window.cogovEditor.view.state, r = s.selection.main; return s.sliceDoc(r.from, r.to); }"
    assert page.evaluate(selected) == "Paragraph 36:"

    # A reader (no editor): the threads beside the text, each passage marked in it and shown by its button.
    reader = new_page(viewport={"width": 1280, "height": 900})
    reader.goto(norm["page"])
    expect(reader.locator("#norm-text")).to_have_attribute("data-live", "reader")
    expect(reader.locator(f"#passage-{second}")).to_have_text("Paragraph 36:")
    text, discussion = _box(reader, "#editor"), _box(reader, "#discussion")
    assert discussion["left"] >= text["right"]
    reader.locator(f"#thread-{second}").get_by_role("button", name="Show passage").click()
    assert reader.evaluate("() => window.getSelection().toString()") == "Paragraph 36:"
