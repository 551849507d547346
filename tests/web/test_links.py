"""Every link on every page of the demo leads somewhere: a crawl from the home page, signed out, as a member,
as a convener and as clearing-house staff, finds no 404 and no 500; and every kind of page it reached renders in
each of the six UN languages, with its `lang` and `dir`.

The demo is seeded as `cogov demo` seeds it, then given what the demo alone does not have yet: an open
consultation with an anchored comment, an open ballot, and an adopted version published by the clearing house.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import timedelta
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import lxml.html
import pytest
from jinja2 import nodes

from services.web import demo, i18n
from services.web.templating import templates
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.databases import ON_SQLITE

DEMO_PASSWORD = "demo password 1"
# Pages alike but for an id, a hash or a number are visited twice per pattern, not all of them.
PER_PATTERN = 2
_VARYING = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|\d+")


def pattern(url: str) -> str:
    """A URL with its ids, hashes and numbers blanked, and its query's names kept without values."""
    parts = urlsplit(url)
    names = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
    return _VARYING.sub("#", parts.path) + "?" + "&".join(names)


def links(html: str, base: str) -> list[str]:
    """Every address a person can follow from the page: links, and GET forms sent as they stand."""
    tree = lxml.html.fromstring(html)
    found = [urljoin(base, href) for href in tree.xpath("//a/@href")]
    for form in tree.xpath("//form"):
        if (form.get("method") or "get").lower() != "get":
            continue
        values = []
        for field in form.xpath(".//input[@name] | .//select[@name]"):
            if field.tag == "select":
                options = field.xpath(".//option")
                chosen = [o for o in options if o.get("selected") is not None] or options[:1]
                values += [(field.get("name"), o.get("value", o.text_content())) for o in chosen]
            elif field.get("type") not in ("checkbox", "radio", "submit") or field.get("checked") is not None:
                values.append((field.get("name"), field.get("value", "")))
        action = urljoin(base, form.get("action") or base)
        found.append(f"{action}?{urlencode(values)}" if values else action)
    return found


async def crawl(client: httpx.AsyncClient, start: tuple[str, ...]) -> tuple[list[str], dict[str, int]]:
    """Follow every local link from the `start` pages; the failures ("url (status) from page") and the statuses seen."""
    queue, seen, per_pattern = deque((url, "") for url in start), set(start), {}
    failures, statuses = [], {}
    while queue:
        url, source = queue.popleft()
        response = await client.get(url)
        statuses[url] = response.status_code
        if response.status_code == 404 or response.status_code >= 500:
            failures.append(f"{url} ({response.status_code}) linked from {source}")
            continue
        if not response.headers.get("content-type", "").startswith("text/html") or url.startswith("/api/"):
            continue
        page = lxml.html.fromstring(response.text)
        here = urlsplit(url).path
        for crumb in page.xpath('//nav[@aria-label="Breadcrumb"]//a/@href'):
            if urlsplit(urljoin(url, crumb)).path == here:
                failures.append(f"{url}: its breadcrumb links to the page itself ({crumb})")
        ids = set(page.xpath("//@id"))
        for target in links(response.text, f"http://test{url}"):
            parts = urlsplit(target)
            if parts.netloc != "test":
                continue
            if parts.path == here and parts.fragment and not parts.query and parts.fragment not in ids:
                failures.append(f"{url}: the link #{parts.fragment} has no target on the page")
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if local in seen:
                continue
            seen.add(local)
            key = pattern(local)
            per_pattern[key] = per_pattern.get(key, 0) + 1
            if per_pattern[key] <= PER_PATTERN:
                queue.append((local, url))
    return failures, statuses


@pytest.fixture
async def demo_world(app, client, clock, worker, staff) -> dict:
    """The demo, with a consultation, an open ballot and a published adoption; the people to crawl as."""
    state = app.state
    seeded = await demo.seed(state.sessionmaker, state.norm_store, state.taxonomy, password=DEMO_PASSWORD, hashing=state.password_hashing)
    assert seeded is not None

    async def signed_in(email: str) -> dict:
        token = await client.post("/api/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD})
        assert token.status_code == 200, token.text
        return {"email": email, "headers": {"Authorization": f"Bearer {token.json()['access_token']}"}}

    async def norm_of(network: str) -> dict:
        [norm] = (await client.get(f"/api/v1/networks/{network}/norms")).json()
        return norm

    closes = (clock.now() + timedelta(days=10)).isoformat()
    sophie = await signed_in("sophie.laurent@example.org")
    flows = await norm_of("cross-border-data-flows-and-privacy")
    opened = await client.post(
        f"/api/v1/norms/{flows['id']}/consultations",
        json={"version": 3, "closes_at": closes, "question": "Do these principles protect people well enough?"},
        headers=sophie["headers"],
    )
    assert opened.status_code == 201, opened.text
    amina = await signed_in("amina.diallo@example.org")
    commented = await client.post(
        f"/api/v1/consultations/{opened.json()['id']}/comments",
        json={"body": "Redress should not depend on the language.", "anchor": {"start": 0, "end": 10}},
        headers=amina["headers"],
    )
    assert commented.status_code == 201, commented.text
    ballot = await client.post(f"/api/v1/norms/{flows['id']}/ballots", json={"version": 3, "closes_at": closes}, headers=sophie["headers"])
    assert ballot.status_code == 201, ballot.text

    # Routing Security: every member approves v2, which is adopted and published.
    routing = await norm_of("routing-security-collaborative")
    jonas = await signed_in("jonas.becker@example.org")
    adopting = await client.post(
        f"/api/v1/norms/{routing['id']}/ballots", json={"version": 2, "closes_at": closes}, headers=jonas["headers"]
    )
    assert adopting.status_code == 201, adopting.text
    for elector in adopting.json()["electorate"]:
        email = next(expert.email for expert in demo.EXPERTS if expert.name == elector["name"])
        voter = await signed_in(email)
        voted = await client.put(f"/api/v1/ballots/{adopting.json()['id']}/vote", json={"position": "approve"}, headers=voter["headers"])
        assert voted.status_code == 200, voted.text
    assert voted.json()["adopted"] is True
    assert await worker.publish_pending() == 1

    def fresh_code() -> str:
        clock.advance(timedelta(minutes=1))  # a code is good once: enrolling used the one of this moment
        return staff["totp"].at(clock.now())

    return {
        "member": ("amina.diallo@example.org", DEMO_PASSWORD, None),
        "convener": ("sophie.laurent@example.org", DEMO_PASSWORD, None),
        # Staff sign in with a second factor, as they must.
        "staff": (staff["email"], PASSWORD, fresh_code),
    }


async def _browser(app, credentials: tuple | None) -> httpx.AsyncClient:
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    if credentials is not None:
        form = await browser.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        email, password, code = credentials
        signed_in = await browser.post("/signin", data={"csrf_token": token, "email": email, "password": password})
        if code is not None:  # the second step: a code from the authenticator app
            challenge = re.search(r'name="challenge" value="([^"]+)"', signed_in.text).group(1)
            signed_in = await browser.post("/signin/code", data={"csrf_token": token, "challenge": challenge, "code": code()})
        assert signed_in.status_code == 303, signed_in.text
    return browser


async def in_every_language(browser: httpx.AsyncClient, pages: list[str]) -> list[str]:
    """Each page fetched again in each language but English (the crawl read it in English): the failures (an
    error, `lang` or `dir` on <html> not the language's, the header not in it)."""
    failures = []
    try:
        for code, language in i18n.LANGUAGES.items():
            if code == i18n.DEFAULT:
                continue
            i18n.activate(code)
            networks = i18n.gettext("Networks")
            browser.cookies.set(i18n.LANGUAGE_COOKIE, code)
            for url in pages:
                response = await browser.get(url)
                if response.status_code >= 500:
                    failures.append(f"{code} {url}: {response.status_code}")
                    continue
                if not response.headers.get("content-type", "").startswith("text/html"):
                    continue
                root = lxml.html.fromstring(response.text)
                if (root.get("lang"), root.get("dir")) != (language.tag, language.direction):
                    failures.append(f"{code} {url}: lang={root.get('lang')} dir={root.get('dir')}")
                elif networks not in root.xpath("string(//nav[@class='site-nav'])"):
                    failures.append(f"{code} {url}: the header is not in {language.name}")
    finally:
        i18n.activate(i18n.DEFAULT)
        browser.cookies.delete(i18n.LANGUAGE_COOKIE)
    return failures


@ON_SQLITE  # links do not depend on the database
async def test_every_link_on_every_page_of_the_demo_leads_somewhere(app, demo_world):
    """…and every kind of page the crawl reached renders in each of the six UN languages (services/web/i18n.py)."""
    report, rendered = {}, set()
    for who in ("signed out", "member", "convener", "staff"):
        browser = await _browser(app, demo_world.get(who))
        try:
            # The clearing house's own home too, wherever the home page leads.
            start = ("/", "/clearinghouse") + (("/clearinghouse/staff",) if who == "staff" else ())
            failures, statuses = await crawl(browser, start)
            if who in ("member", "staff"):
                # One page of each kind (alike but for an id or a number) not already rendered for another role.
                kinds = {pattern(url): url for url, status in statuses.items() if status == 200 and not url.startswith("/api/")}
                failures += await in_every_language(browser, sorted(url for kind, url in kinds.items() if kind not in rendered))
                rendered |= kinds.keys()
        finally:
            await browser.aclose()
        report[who] = failures
        # The crawl reached the pages the demo is made of.
        assert any("/versions/" in url for url in statuses) and any("/history" in url for url in statuses), who
        assert any("/ballots/" in url for url in statuses) and any(url.startswith("/consultations/") for url in statuses), who
        assert any(url.startswith("/clearinghouse/") for url in statuses), who
        if who == "staff":
            assert any(url.startswith("/clearinghouse/staff") and status == 200 for url, status in statuses.items())
    assert len(rendered) > 30, sorted(rendered)
    broken = [f"{who}: {failure}" for who, failures in report.items() for failure in failures]
    assert not broken, "\n".join(broken)


def _assigned_outside_blocks(node: nodes.Node) -> list[str]:
    found = []
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block | nodes.Macro):
            continue
        if isinstance(child, nodes.Assign | nodes.AssignBlock):
            target = child.target
            found += [target.name] if isinstance(target, nodes.Name) else [name.name for name in target.find_all(nodes.Name)]
        found += _assigned_outside_blocks(child)
    return found


def test_no_layout_sets_a_variable_that_could_hide_a_page_s_own():
    """A `{% set %}` at the top of a template that others extend runs before their blocks and wins over what
    the page passed in under the same name (base.html's `path` once sent every diff link to `…/diff/diff`)."""
    environment = templates.env
    names = environment.list_templates(extensions=["html"])
    layouts = {
        parent.template.value
        for name in names
        for parent in environment.parse(environment.loader.get_source(environment, name)[0]).find_all(nodes.Extends)
        if isinstance(parent.template, nodes.Const)
    }
    assert "base.html" in layouts
    for layout in sorted(layouts):
        tree = environment.parse(environment.loader.get_source(environment, layout)[0])
        assert _assigned_outside_blocks(tree) == [], layout
