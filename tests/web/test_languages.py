"""The interface in the six UN languages: complete catalogs, and the language a person gets. (Every page of the demo
rendered in each language: tests/web/test_links.py, beside the crawl that finds them.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from services.web import i18n
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.environment import service_unavailable
from tests.web.test_links import _browser

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]
# As `make messages` extracts (Makefile).
EXTRACT_OPTIONS = [
    *("-k", "lazy_gettext", "-k", "formatted", "-k", "plural_forms:1,2"),
    *("--no-location", "--ignore-dirs", ".* _* node_modules tests bench stubs"),
]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    """What `make messages` extracts from the code and templates now (not the committed template)."""
    out = tmp_path_factory.mktemp("messages") / "messages.pot"
    command = ["-q", "extract", "-F", "babel.cfg", *EXTRACT_OPTIONS, "-o", str(out), "."]
    subprocess.run([sys.executable, "-c", "from babel.messages.frontend import main; main()", *command], cwd=ROOT, check=True)
    with out.open("rb") as template:
        return read_po(template)


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_string_of_the_interface_is_translated(extracted, code):
    """A string marked in a template or in the code, missing, empty or fuzzy in a catalog, fails here (`make messages`,
    then translate it: docs/translating.md)."""
    with (i18n.LOCALE_DIR / code / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale=i18n.LANGUAGES[code].locale)
    assert len([message for message in extracted if message.id]) > 400  # the extraction found the interface
    problems = []
    for message in extracted:
        if not message.id:
            continue
        said = catalog.get(message.id)
        forms = said.string if said is not None and isinstance(said.string, tuple) else (said.string if said else "",)
        if said is None or not all(forms):
            problems.append(f"missing: {message.id!r}")
        elif said.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    problems += [f"header is fuzzy in {code}"] if catalog.fuzzy else []
    # Placeholders (%(name)s) the translation lacks or adds.
    problems += [f"{message.id!r}: {error}" for message, errors in catalog.check() for error in errors]
    assert not problems, "\n".join(problems)


def test_the_choice_of_language_follows_its_order():
    assert i18n.choose(account="ru", cookie="fr", query="es", accept="ar") == "ru"
    assert i18n.choose(account=None, cookie="fr", query="es", accept="ar") == "fr"
    assert i18n.choose(account=None, cookie=None, query="es", accept="ar") == "es"
    assert i18n.choose(account=None, cookie=None, query=None, accept="de-CH, ar;q=0.5, fr;q=0.4") == "ar"
    assert i18n.choose(account=None, cookie=None, query=None, accept="zh-CN,zh;q=0.9") == "zh"
    assert i18n.choose(account=None, cookie=None, query=None, accept="fr-CA") == "fr"
    assert i18n.choose(account=None, cookie=None, query=None, accept=None) == "en"
    # Unknown or malformed: passed over, down to English.
    assert i18n.choose(account="xx", cookie="<script>", query="fr-FR-x-" * 20, accept="de;q=abc, ;;, *") == "en"
    assert i18n.from_accept_language("es;q=0, ru;q=0.1") == "ru"


@given(st.text(max_size=300))
def test_any_accept_language_header_gives_one_of_the_six_or_none(header):
    assert i18n.from_accept_language(header) in (None, *i18n.LANGUAGES)
    assert i18n.choose(account=header, cookie=header, query=header, accept=header) in i18n.LANGUAGES


def _html(response) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(response.text)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def test_a_page_is_answered_in_the_language_asked_for_and_english_otherwise(client):
    for headers, params, expected in [
        ({"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"}, {}, "ar"),
        ({"Accept-Language": "ru"}, {"lang": "zh"}, "zh"),
        ({"Accept-Language": "x" * 2000}, {"lang": "klingon"}, "en"),
        ({"Accept-Language": "de;q=nan, *;q=1"}, {"lang": "fr\x00"}, "en"),
    ]:
        response = await client.get("/networks", headers=headers, params=params)
        assert response.status_code == 200, (headers, params)
        root = _html(response)
        language = i18n.LANGUAGES[expected]
        assert (root.get("lang"), root.get("dir")) == (language.tag, language.direction)
        assert response.headers["content-language"] == language.tag
        assert "Accept-Language" in response.headers["vary"]
        i18n.activate(expected)
        assert root.xpath("//h1")[0].text_content().strip() == i18n.gettext("Networks")
    i18n.activate("en")


async def test_the_switch_keeps_one_on_the_page_and_a_signed_in_person_keeps_the_language(app, client, sign_up):
    """Chosen signed out: a cookie, over Accept-Language. Chosen signed in: also the account's, so it follows the
    person to another browser."""
    person = await sign_up("Leila Haddad")
    browser = await _browser(app, (person["email"], PASSWORD, None))
    try:
        page = await browser.get("/networks?status=active", headers={"Accept-Language": "fr"})
        assert _html(page).get("lang") == "fr"
        switched = await browser.post("/language", data={"csrf_token": _csrf(page.text), "lang": "ar", "next": "/networks?status=active"})
        assert switched.status_code == 303 and switched.headers["location"] == "/networks?status=active"
        again = await browser.get("/networks?status=active", headers={"Accept-Language": "fr"})
        assert (_html(again).get("lang"), _html(again).get("dir")) == ("ar", "rtl")
        # An unknown language, or a page elsewhere: nothing changes, and no one is sent off the site.
        refused = await browser.post("/language", data={"csrf_token": _csrf(page.text), "lang": "tlh", "next": "https://evil.example/"})
        assert refused.status_code == 303 and refused.headers["location"] == "/"
        assert _html(await browser.get("/")).get("lang") == "ar"
    finally:
        await browser.aclose()
    elsewhere = await _browser(app, (person["email"], PASSWORD, None))
    try:
        home = await elsewhere.get("/", headers={"Accept-Language": "es"})
        assert (_html(home).get("lang"), _html(home).get("dir")) == ("ar", "rtl")
    finally:
        await elsewhere.aclose()


@pytest.mark.parametrize(
    ("code", "words", "shown"),
    [
        ("fr", "vouched by Ana, Ben and Chen", "Parrainée par Ana, Ben et Chen"),
        ("es", "verified by domain anatel.gov.br", "Verificada por el dominio anatel.gov.br"),
        ("ar", "unverified", "غير موثَّق"),
        ("zh", "verified by registrar Rui", "经登记员 Rui 核实"),
        ("ru", "something else", "Something else"),  # a shape it does not know is shown as it is
    ],
)
def test_verification_words_kept_in_english_by_ballots_are_shown_in_the_readers_language(code, words, shown):
    i18n.activate(code)
    try:
        assert i18n.evidence_words(words, capital=True) == shown
    finally:
        i18n.activate(i18n.DEFAULT)


def test_a_mail_is_written_in_the_language_of_the_request_that_sends_it():
    from datetime import UTC, datetime

    from services.mail.message import compose, text_of

    context = {"base_url": "http://cogov.test", "link": "http://cogov.test/verify-email?token=t"}
    i18n.activate("ar")
    try:
        mail = compose(
            kind="verify_email",
            recipient="leila@example.org",
            name="ليلى",
            sender="CoGov <noreply@cogov.test>",
            context=context,
            now=datetime.now(UTC),
        )
        assert mail["Subject"] == i18n.gettext("Confirm your email address for CoGov") != "Confirm your email address for CoGov"
        assert i18n.gettext("Hello %(name)s,") % {"name": "ليلى"} in text_of(mail)
        html = mail.get_body(preferencelist=("html",)).get_content()
        assert '<html lang="ar" dir="rtl">' in html
    finally:
        i18n.activate(i18n.DEFAULT)
    english = compose(
        kind="verify_email",
        recipient="leila@example.org",
        name="Leila",
        sender="noreply@cogov.test",
        context=context,
        now=datetime.now(UTC),
    )
    assert english["Subject"] == "Confirm your email address for CoGov" and "Hello Leila," in text_of(english)


def test_numbers_are_written_as_the_browsers_write_them_in_every_language():
    """A count the page's script keeps current (Intl.NumberFormat) reads as the server first wrote it: the same
    digit grouping in each language, Spanish's 1000 but 10.000 included."""
    node = shutil.which("node")
    if node is None:
        service_unavailable("node (for the browsers' Intl.NumberFormat)")
    numbers = [0, 7, 999, 1000, 4321, 9999, 10000, 12345, 999999, 1234567]
    script = f"const n = {json.dumps(numbers)}; const out = {{}};"
    script += f"for (const l of {json.dumps(list(i18n.LANGUAGES))}) out[l] = n.map(x => new Intl.NumberFormat(l).format(x));"
    script += "console.log(JSON.stringify(out))"
    browsers = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    for code in i18n.LANGUAGES:
        i18n.activate(code)
        assert [i18n.number_text(n) for n in numbers] == browsers[code], code
    i18n.activate(i18n.DEFAULT)
