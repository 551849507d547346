"""The live editor in a real Chromium: co-editing, presence, readers following live without it, offline edits."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.fixtures.accounts import mark_unverified_at
from tests.fixtures.web import DEMO_PASSWORD, WAIT_MS, open_editor, shoot, sign_in

pytestmark = pytest.mark.browser


def _members(live_server, count: int = 2) -> list[dict]:
    groups = [("government", "FR"), ("civil_society", "KE"), ("private_sector", "JP")]
    people = [live_server.person(f"Member {i + 1}", group=groups[i][0], country=groups[i][1]) for i in range(count)]
    return people


def _type_at_end(page, text: str) -> None:
    page.click("#editor .cm-content")
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def test_two_members_see_each_others_text_and_presence_and_a_guest_reads_only(live_server, new_page):
    ana, ben = _members(live_server)
    ana["name"], ben["name"] = "Ana Member", "Ben Member"
    network = live_server.network(ana, ben)
    norm = live_server.norm(ana, network, "Shared norm", "Opening line.")
    # Display names as the pages show them.
    for person, name in ((ana, "Member 1"), (ben, "Member 2")):
        person["name"] = name

    first, second, guest = new_page(), new_page(), new_page()
    sign_in(first, live_server, ana)
    sign_in(second, live_server, ben)
    for page in (first, second):
        open_editor(page, norm["page"])
    guest.goto(norm["page"])
    expect(guest.locator("#connection")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)

    _type_at_end(first, " Ana writes here.")
    second.click("#editor .cm-content")
    second.keyboard.press("Control+Home")
    second.keyboard.type("Ben begins. ")

    for page in (first, second):
        expect(page.locator("#editor .cm-content")).to_contain_text("Ben begins. Opening line. Ana writes here.", timeout=WAIT_MS)
    expect(guest.locator("#norm-text")).to_have_text("Ben begins. Opening line. Ana writes here.", timeout=WAIT_MS)

    # Presence: each member sees the other by name, with a cursor in the text.
    expect(first.locator("#presence")).to_contain_text("Member 2", timeout=WAIT_MS)
    expect(second.locator("#presence")).to_contain_text("Member 1", timeout=WAIT_MS)
    expect(first.locator('.cm-remote-caret[data-name="Member 2"]')).to_have_count(1, timeout=WAIT_MS)
    expect(first.locator("#connection")).to_contain_text("Connected", timeout=WAIT_MS)
    shoot(first, "norm-live-member")

    # The signed-out guest reads live (the server's text, then its changes as events), with nothing to type into.
    expect(guest.locator("#norm-text")).to_have_attribute("data-live", "reader")
    expect(guest.locator("#editor .cm-content, #plain-edit, [contenteditable=true]")).to_have_count(0)
    shoot(guest, "norm-live-guest")

    live_server.wait_for_text(norm, "Ben begins. Opening line. Ana writes here.")
    expect(first.locator("#connection")).to_contain_text("all changes saved", timeout=WAIT_MS)


def test_a_non_member_reads_live_but_cannot_edit(live_server, new_page):
    (ana,) = _members(live_server, 1)
    outsider = live_server.person("Outsider", group="technical_academic", country="BR")
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, "Members only", "Written by members.")
    page = new_page()
    sign_in(page, live_server, outsider)
    page.goto(norm["page"])
    expect(page.locator("#edit-mode")).to_contain_text("Only members of the network edit")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(page.locator("#norm-text")).to_have_text("Written by members.")
    expect(page.locator("#editor .cm-content, #plain-edit")).to_have_count(0)


def test_a_member_whose_address_is_unconfirmed_is_told_to_confirm_it(live_server, new_page):
    ana, ben = _members(live_server)
    network = live_server.network(ana, ben)
    norm = live_server.norm(ana, network, "Confirmed only", "Written by members.")
    mark_unverified_at(live_server.settings.database_url, ben["email"])
    page = new_page()
    sign_in(page, live_server, ben)
    open_editor(page, norm["page"])
    _type_at_end(page, " Unconfirmed words.")
    link = page.locator("#connection").get_by_role("link", name="Confirm your address to edit")
    expect(link).to_have_attribute("href", "/settings/email", timeout=WAIT_MS)
    assert live_server.text_of(norm) == "Written by members."
    # As the status around it changes (more words typed, more changes waiting), the link stays the same
    # element in the same place, so a click on it never lands on one just replaced or moved.
    shown = link.element_handle()
    where = shown.bounding_box()
    unsynced = page.locator("#connection").get_attribute("data-unsynced") or ""
    _type_at_end(page, " More.")
    expect(page.locator("#connection")).not_to_have_attribute("data-unsynced", unsynced, timeout=WAIT_MS)
    assert shown.evaluate("element => element.isConnected")
    assert shown.bounding_box() == where
    link.click()
    page.wait_for_url(f"{live_server.url}/settings/email")


def test_edits_made_offline_survive_a_reload_and_sync_on_reconnect(live_server, new_page):
    ana, ben = _members(live_server)
    network = live_server.network(ana, ben)
    norm = live_server.norm(ana, network, "Offline norm", "Start.")

    writer, reader = new_page(), new_page()
    sign_in(writer, live_server, ana)
    sign_in(reader, live_server, ben)
    open_editor(writer, norm["page"])
    open_editor(reader, norm["page"])
    # The page keeps an offline copy of itself once its service worker is ready.
    writer.wait_for_function("async () => !!(await caches.open('cogov-offline-v1').then(c => c.match(location.pathname)))", timeout=WAIT_MS)

    writer.context.set_offline(True)
    status = writer.locator("#connection")
    expect(status).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
    _type_at_end(writer, " Typed on a train.")
    # However many changes the keystrokes became (the first at once, then one per burst).
    expect(status).to_contain_text(re.compile(r"Offline — \d+ unsynced changes?, saved on this device"), timeout=WAIT_MS)
    shoot(writer, "norm-offline")

    # Reload while still offline: the page comes from the service worker, the text from IndexedDB.
    writer.reload()
    writer.wait_for_selector("#editor[data-live=true] .cm-content", timeout=WAIT_MS)
    expect(writer.locator("#editor .cm-content")).to_have_text("Start. Typed on a train.", timeout=WAIT_MS)
    expect(status).to_contain_text(re.compile(r"Offline — \d+ unsynced changes?"), timeout=WAIT_MS)
    assert live_server.text_of(norm) == "Start."  # nothing has left this device yet

    # Back online, the edit reaches the server and the other member.
    writer.context.set_offline(False)
    expect(reader.locator("#editor .cm-content")).to_contain_text("Start. Typed on a train.", timeout=WAIT_MS)
    live_server.wait_for_text(norm, "Start. Typed on a train.")
    expect(status).to_contain_text("Connected — all changes saved", timeout=WAIT_MS)


def test_typing_is_batched_into_a_few_changes(live_server, new_page):
    (ana,) = _members(live_server, 1)
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, "Batched", "")
    page = new_page()
    sign_in(page, live_server, ana)
    open_editor(page, norm["page"])
    sentence = "Forty characters typed one key at a time"
    page.click("#editor .cm-content")
    page.keyboard.type(sentence)
    live_server.wait_for_text(norm, sentence)
    history = live_server.api.get(f"/api/v1/norms/{norm['id']}/history", params={"limit": 200}).json()["items"]
    typed = [entry for entry in history if entry["inserted"]]
    # One change per flush, not one per key: far fewer changes than characters.
    assert sum(entry["inserted"] for entry in typed) == len(sentence)
    assert len(typed) < len(sentence) // 2


def test_the_editor_is_reachable_and_usable_with_the_keyboard_alone(live_server, new_page):
    (ana,) = _members(live_server, 1)
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, "Keyboard", "Typed by keys.")
    page = new_page()
    sign_in(page, live_server, ana)
    open_editor(page, norm["page"])
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.classList.contains('cm-content')"):
            break
    else:
        pytest.fail("Tab never reached the editor")
    page.keyboard.press("Control+End")
    page.keyboard.type(" More.")
    live_server.wait_for_text(norm, "Typed by keys. More.")
    # Tab leaves the editor again (no keyboard trap).
    page.keyboard.press("Tab")
    assert not page.evaluate("() => document.activeElement?.classList.contains('cm-content')")


def test_typing_then_following_a_link_at_once_loses_nothing(live_server, new_page):
    (ana,) = _members(live_server, 1)
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, "Quick exit", "Start.")
    page = new_page()
    sign_in(page, live_server, ana)
    open_editor(page, norm["page"])
    _type_at_end(page, " Q0W")
    # At once, well within any batching delay: the next page starts loading while keystrokes may still be held.
    page.locator(".page-head .meta a").click()
    page.wait_for_url(f"{live_server.url}/networks/{network}")
    live_server.wait_for_text(norm, "Start. Q0W")


def test_keystrokes_are_kept_on_the_device_from_the_first_one(live_server, new_page):
    """Keystrokes are in IndexedDB before any timer runs: the page ending then (its renderer gone, so none of
    its events runs) loses nothing; the text is there when the page is opened again, and reaches the server."""
    (ana,) = _members(live_server, 1)
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, "Closed at once", "Start.")
    # Without the offline service worker, which would die with the renderer and hold up the next page.
    page = new_page(service_workers="block")
    context = page.context
    sign_in(page, live_server, ana)
    page.clock.install()
    open_editor(page, norm["page"])
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)  # from here no timer of the page fires
    _type_at_end(page, " Q0W")
    page.wait_for_function("async () => JSON.stringify(await window.cogovEditor.pending.load()).includes('Q0W')", timeout=WAIT_MS)
    with pytest.raises(PlaywrightError):
        page.goto("chrome://crash")  # the renderer dies at once
    assert live_server.text_of(norm) == "Start."  # nothing left the device
    page.close()
    again = context.new_page()
    again.clock.resume()  # the clock belongs to the browser context
    open_editor(again, norm["page"])
    expect(again.locator("#editor .cm-content")).to_have_text("Start. Q0W", timeout=WAIT_MS)
    live_server.wait_for_text(norm, "Start. Q0W")
    expect(again.locator("#connection")).to_contain_text("Connected — all changes saved", timeout=WAIT_MS)


def test_the_status_counts_keystrokes_not_yet_sent(live_server, new_page):
    (ana,) = _members(live_server, 1)
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, "Status", "Start.")
    page = new_page()
    sign_in(page, live_server, ana)
    open_editor(page, norm["page"])
    expect(page.locator("#connection")).to_contain_text("all changes saved", timeout=WAIT_MS)
    # Two keystrokes and the status line, in one task: nothing can have been sent or confirmed in between.
    shown = page.evaluate(
        """() => {
          const { view, status } = window.cogovEditor
          for (const key of ["!", "?"]) {
            const end = view.state.doc.length
            view.dispatch({ changes: { from: end, insert: key }, selection: { anchor: end + 1 }, userEvent: "input.type" })
          }
          status.render()
          return document.getElementById("connection").textContent
        }"""
    )
    assert "unsynced" in shown and "all changes saved" not in shown, shown
    live_server.wait_for_text(norm, "Start.!?")
    expect(page.locator("#connection")).to_contain_text("all changes saved", timeout=WAIT_MS)


def test_a_co_editors_text_shows_while_our_keystrokes_are_held(live_server, new_page):
    ana, ben = _members(live_server)
    network = live_server.network(ana, ben)
    norm = live_server.norm(ana, network, "Both at once", "Start.")
    writer, other = new_page(), new_page()
    sign_in(writer, live_server, ana)
    sign_in(other, live_server, ben)
    writer.clock.install()
    open_editor(writer, norm["page"])
    open_editor(other, norm["page"])
    writer.clock.pause_at(writer.evaluate("Date.now()") + 1000)  # the writer's timers stop: its keystrokes stay held
    _type_at_end(writer, " Ana")
    other.click("#editor .cm-content")
    other.keyboard.press("Control+Home")
    other.keyboard.type("Ben: ")
    live_server.wait_for_text(norm, "Ben: Start.")
    # Ben's text shows in Ana's editor with her keystrokes still held, both in their places.
    expect(writer.locator("#editor .cm-content")).to_have_text("Ben: Start. Ana", timeout=WAIT_MS)
    assert live_server.text_of(norm) == "Ben: Start."
    writer.clock.resume()
    live_server.wait_for_text(norm, "Ben: Start. Ana")
    expect(other.locator("#editor .cm-content")).to_have_text("Ben: Start. Ana", timeout=WAIT_MS)


def _look(locator) -> tuple[str, str]:
    """The colour and line style an element draws its person in (site.css's `--author` and `--author-line`)."""
    script = "e => ['--author', '--author-line'].map(name => getComputedStyle(e).getPropertyValue(name).trim())"
    return tuple(locator.evaluate(script))


def test_each_author_has_their_own_colour_in_who_wrote_what_and_in_presence(demo_server, new_page):
    networks = demo_server.api.get("/api/v1/networks", params={"limit": 100}).json()["items"]
    (flows,) = [network["slug"] for network in networks if network["name"] == "Cross-border Data Flows and Privacy"]
    (norm,) = demo_server.api.get(f"/api/v1/networks/{flows}/norms").json()
    page_url = f"{demo_server.url}/networks/{flows}/norms/{norm['slug']}"
    sophie, amina = ({"email": email} for email in ("sophie.laurent@example.org", "amina.diallo@example.org"))
    reader, co_editor = new_page(), new_page()
    sign_in(reader, demo_server, sophie, password=DEMO_PASSWORD)
    sign_in(co_editor, demo_server, amina, password=DEMO_PASSWORD)
    open_editor(reader, page_url)

    # The demo norm's six authors, each in their own colour, in the legend and on their passages.
    legend = reader.locator('#authorship ul[aria-label="Authors"] li')
    expect(legend).to_have_count(6)
    authors = {item.inner_text().split(" — ")[0]: _look(item.locator(".swatch")) for item in legend.all()}
    assert len(authors) == 6 and len({colour for colour, _ in authors.values()}) == 6, authors
    # In order of first appearance: whoever wrote the opening passage has the palette's first colour.
    assert _look(reader.locator("#authorship mark").first) == ("#0072b2", "solid")
    for name, (colour, _) in authors.items():
        assert {_look(mark)[0] for mark in reader.locator(f'#authorship mark[title="{name}"]').all()} == {colour}

    # A co-editor shows in presence in the colour of their writing.
    open_editor(co_editor, page_url)
    present = reader.locator("#presence li", has_text="Amina Diallo")
    expect(present).to_have_count(1, timeout=WAIT_MS)
    assert _look(present)[0] == authors["Amina Diallo"][0]
    you = reader.locator("#presence li", has_text="(you)")
    assert _look(you)[0] == authors["Sophie Laurent"][0]
    shoot(reader, "norm-authors-colours")


def test_the_editor_speaks_the_page_s_language(live_server, new_page):
    """The status line and the text's label come in the page's language, counts in its plural forms."""
    (ana,) = _members(live_server, 1)
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, "Status in Arabic", "Start.")
    page = new_page()
    sign_in(page, live_server, ana)
    open_editor(page, norm["page"] + "?lang=ar")
    status = page.locator("#connection")
    expect(status).to_have_text("متصل — حُفظت كل التعديلات", timeout=WAIT_MS)
    expect(page.locator("#editor .cm-content")).to_have_attribute("aria-label", "نص القاعدة")
    page.context.set_offline(True)
    expect(status).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
    _type_at_end(page, " نص")
    expect(status).to_contain_text(re.compile(r"^غير متصل — .*غير متزامن"), timeout=WAIT_MS)
    assert "unsynced" not in status.text_content()
    page.context.set_offline(False)
    expect(status).to_have_text("متصل — حُفظت كل التعديلات", timeout=WAIT_MS)
