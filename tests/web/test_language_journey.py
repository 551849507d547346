"""Chromium: the language switch in the header keeps one on the same page, in each of the six UN languages;
the Arabic page reads right to left, and the Arabic and Chinese pages are axe-clean. A screenshot per language
goes under test-results/pages/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services.web import i18n
from tests.fixtures.web import WAIT_MS, axe_violations, describe, shoot

pytestmark = pytest.mark.browser


def test_switching_language_keeps_one_on_the_page(live_server, page):
    live = live_server
    founder = live.person("Nadia Benali", group="civil_society", country="MA", organisation="Réseau Maghreb Numérique")
    member = live.person("Li Wei", group="technical_academic", country="CN", organisation="Tsinghua Network Lab")
    slug = live.network(founder, member, name="Multilingual Access Network")
    here = f"/networks/{slug}"
    page.goto(f"{live.url}{here}")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    for code in ("ar", "zh", "fr", "ru", "es", "en"):
        language = i18n.LANGUAGES[code]
        page.select_option("#language-choice", code)
        page.locator(".language-switch button").click()
        page.wait_for_function(f"document.documentElement.lang === {language.tag!r}", timeout=WAIT_MS)
        assert page.url == f"{live.url}{here}", code
        html = page.locator("html")
        expect(html).to_have_attribute("dir", language.direction)
        # What the browser lays out, not only the attribute: the header runs the other way in Arabic.
        assert page.evaluate("getComputedStyle(document.body).direction") == language.direction
        i18n.activate(code)
        try:
            expect(
                page.get_by_role("navigation", name=i18n.gettext("Main")).get_by_role("link", name=i18n.gettext("Networks"))
            ).to_be_visible()
        finally:
            i18n.activate(i18n.DEFAULT)
        expect(page.locator("#language-choice")).to_have_value(code)
        shoot(page, f"language-{code}-network")
        if code in ("ar", "zh"):
            violations = axe_violations(page)
            assert not violations, describe(violations)
