"""A reader finds a norm from the header's search box to the norm's page, by keyboard only, with and without JavaScript."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.web import WAIT_MS, axe_violations, describe, shoot

pytestmark = pytest.mark.browser


def _tab_to(page, wanted: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches the JavaScript predicate `wanted` (of `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return Boolean({wanted}); }})()"):
            return
    pytest.fail(f"Tab never reached {wanted}")


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_header_search_then_results_then_the_norm_by_keyboard(live_server, new_page, javascript):
    ana = live_server.person("Search Author", group="civil_society", country="KE")
    network = live_server.network(ana)
    norm = live_server.norm(ana, network, f"Quokka interconnection {javascript}", "Operators peer at open exchanges.")
    page = new_page(java_script_enabled=javascript)
    page.goto(f"{live_server.url}/networks")

    _tab_to(page, "el.id === 'site-search-q'")
    page.keyboard.type(f"quokka interconn* {str(javascript).lower()}")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=quokka"), timeout=WAIT_MS)
    first = page.locator(".results .result").first
    assert "Quokka" in first.inner_text()
    assert first.locator("mark").first.inner_text().lower() == "quokka"
    if javascript:
        shoot(page, "search-results")
        assert axe_violations(page) == [], describe(axe_violations(page))

    _tab_to(page, f"el.getAttribute('href') === '/networks/{network}/norms/{norm['slug']}'")
    page.keyboard.press("Enter")
    page.wait_for_url(norm["page"], timeout=WAIT_MS)
    assert "Quokka interconnection" in page.locator("h1").inner_text()
