"""Every page: no serious or critical axe-core violation, small enough to load on a slow line, usable at 360 px.

Each page is also saved as a screenshot (desktop and 360 px) under test-results/pages/ for review,
and its transferred size is written to test-results/pages/sizes.txt.
"""

from __future__ import annotations

from contextlib import suppress

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.fixtures.web import SCREENSHOTS, WAIT_MS, axe_violations, describe, shoot, sign_in

pytestmark = pytest.mark.browser

# Pages other than the live editor stay under this many bytes transferred (HTML, CSS, everything).
PAGE_BUDGET = 100 * 1024


@pytest.fixture(scope="module")
def site(live_server) -> dict:
    """A network with members, a norm with two versions and a pending application: every page has content."""
    live = live_server
    founder = live.person("Sophie Laurent", group="government", country="FR", organisation="Ministry for Digital Affairs")
    members = [
        live.person("Kenji Watanabe", group="private_sector", country="JP", organisation="Kaigan Cloud"),
        live.person("Amina Diallo", group="civil_society", country="SN", organisation="Sahel Digital Rights"),
        live.person("João Pereira", group="technical_academic", country="BR", organisation="Núcleo de Redes"),
    ]
    slug = live.network(founder, *members, name="Accessible Data Flows")
    norm = live.norm(
        founder, slug, "Principles for trusted transfers", "1. Purpose\nData stays protected.\n\n2. Redress\nPeople can complain."
    )
    headers = founder["headers"]
    live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "First draft"}, headers=headers)
    live.api.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": 31, "delete": 0, "insert": " wherever it goes"}]},
        headers=members[1]["headers"],
    )
    live.api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "Second draft", "note": "Wider scope."}, headers=headers)
    # A translation of v1 into Arabic (right to left), written by a member.
    translations = f"/api/v1/norms/{norm['id']}/versions/1/translations"
    started = live.api.post(translations, json={"language": "ar"}, headers=members[0]["headers"])
    assert started.status_code == 201, started.text
    arabic = "١. الغرض\nتبقى البيانات محمية.\n\n٢. الانتصاف\nيمكن للناس تقديم شكوى."
    splice = {"index": 0, "delete": len(started.json()["text"]), "insert": arabic}
    live.api.post(f"{translations}/ar/edits", json={"splices": [splice]}, headers=members[0]["headers"])
    return {"founder": founder, "slug": slug, "norm": norm}


def _pages(live_server, site) -> list[tuple[str, str]]:
    norm_path = site["norm"]["page"].removeprefix(live_server.url)
    return [
        ("home", "/"),
        ("networks", "/networks"),
        ("networks-filtered", "/networks?status=active&group=civil_society"),
        ("network", f"/networks/{site['slug']}"),
        ("diff-page", f"{norm_path}/diff?from=1&to=2"),
        ("version", f"{norm_path}/versions/1"),
        ("translation", f"{norm_path}/versions/1/translations/ar"),
        ("history", f"{norm_path}/history"),
        ("audit", "/audit"),
        ("signin", "/signin"),
        ("signup", "/signup"),
        ("not-found", "/networks/no-such-network"),
    ]


def _transferred(page, url: str) -> int:
    """Bytes the browser received for the page and everything it loaded (bodies as sent, plus headers)."""
    responses = []

    def collect(response) -> None:
        responses.append(response)

    page.on("response", collect)
    page.goto(url, wait_until="load")
    # A page that follows live text keeps its event stream open, so the network never goes idle: wait for what else
    # it loads, and count the stream (never finished) out.
    with suppress(PlaywrightTimeoutError):
        page.wait_for_load_state("networkidle", timeout=3000)
    page.remove_listener("response", collect)
    total = 0
    for response in responses:
        if "text/event-stream" in response.headers.get("content-type", ""):
            continue
        sizes = response.request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    return total


def _fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_pages_signed_out(live_server, site, new_page):
    page = new_page()
    narrow = new_page(viewport={"width": 360, "height": 740})
    report = []
    for name, path in _pages(live_server, site):
        size = _transferred(page, live_server.url + path)
        report.append(f"{path}: {size} bytes")
        assert size < PAGE_BUDGET, f"{path} transferred {size} bytes"
        violations = axe_violations(page)
        assert not violations, f"{path}: {describe(violations)}"
        shoot(page, f"{name}")
        narrow.goto(live_server.url + path)
        assert _fits(narrow), f"{path} scrolls sideways at 360 px"
        shoot(narrow, f"{name}-360")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "sizes.txt").write_text("\n".join(report) + "\n")


def test_pages_signed_in_and_the_editor(live_server, site, new_page):
    page = new_page()
    narrow = new_page(viewport={"width": 360, "height": 740})
    sign_in(page, live_server, site["founder"])
    sign_in(narrow, live_server, site["founder"])
    for name, path in (
        ("home-signed-in", "/"),
        ("my-affiliation", "/me/affiliation"),
        ("settings", "/settings"),
        ("settings-two-factor", "/settings/two-factor"),
        ("settings-delete", "/settings/delete"),
        ("found-a-network", "/networks/new"),
        ("network-convener", f"/networks/{site['slug']}"),
        ("version-member", site["norm"]["page"].removeprefix(live_server.url) + "/versions/1"),
    ):
        size = _transferred(page, live_server.url + path)
        assert size < PAGE_BUDGET, f"{path} transferred {size} bytes"
        violations = axe_violations(page)
        assert not violations, f"{path}: {describe(violations)}"
        shoot(page, name)
        narrow.goto(live_server.url + path)
        assert _fits(narrow), f"{path} scrolls sideways at 360 px"

    # The norm page with its live editor running, for a member and at 360 px.
    for each in (page, narrow):
        each.goto(site["norm"]["page"])
        each.wait_for_selector("#editor[data-live=true] .cm-content", timeout=WAIT_MS)
        expect(each.locator("#connection")).to_contain_text("Connected", timeout=WAIT_MS)
    violations = axe_violations(page)
    assert not violations, f"norm page: {describe(violations)}"
    assert _fits(narrow), "the norm page scrolls sideways at 360 px"
    shoot(page, "norm")
    shoot(narrow, "norm-360")


def test_the_norm_page_reads_without_javascript(live_server, site, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(site["norm"]["page"])
    expect(page.locator("#norm-text")).to_contain_text("Data stays protected wherever it goes.")
    expect(page.locator("#live-bar")).to_be_hidden()
    violations_free = page.locator("#authorship mark")
    expect(violations_free.first).to_be_visible()
    shoot(page, "norm-without-javascript")
