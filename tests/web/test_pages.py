"""The pages without a browser: cookie sessions, CSRF, HTML errors, forms that work without JavaScript, the demo."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from services.web import colours, demo
from services.web.templating import STATIC_DIR
from services.web.templating import bundle as bundle_files
from tests.fixtures.accounts import PASSWORD, mark_verified


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def _token(client, path: str = "/signin") -> str:
    return _csrf((await client.get(path)).text)


async def _sign_up(client, name: str = "Page Person", email: str | None = None, *, verified: bool = True) -> str:
    """Sign up on the page, then sign in on the page it leads to; the client is signed in. The address is taken as
    proven unless `verified=False` (tests/web/test_addresses.py follows the mailed link in Chromium)."""
    email = email or f"{name.lower().replace(' ', '.')}@example.org"
    response = await client.post(
        "/signup", data={"csrf_token": await _token(client, "/signup"), "display_name": name, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 303, response.text
    if verified:
        await mark_verified(client._transport.app.state.sessionmaker, email)
    signed_in = await client.post("/signin", data={"csrf_token": await _token(client), "email": email, "password": PASSWORD})
    assert signed_in.status_code == 303, signed_in.text
    return email


async def test_signing_up_leads_to_signing_in_which_sets_an_httponly_lax_session_cookie(client):
    response = await client.post(
        "/signup",
        data={"csrf_token": await _token(client, "/signup"), "display_name": "Ada", "email": "ada@example.org", "password": PASSWORD},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/me/affiliation"
    assert not any(value.startswith("cogov_session=") for value in response.headers.get_list("set-cookie"))
    page = await client.get(response.headers["location"])
    assert "Sign-up received" in page.text  # the flash message, shown once
    assert 'name="next" value="/me/affiliation"' in page.text

    signed_in = await client.post(
        "/signin", data={"csrf_token": await _token(client), "email": "ada@example.org", "password": PASSWORD, "next": "/me/affiliation"}
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/me/affiliation"
    cookie = next(value for value in signed_in.headers.get_list("set-cookie") if value.startswith("cogov_session="))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    page = await client.get("/me/affiliation")
    assert page.status_code == 200
    assert "Signed in as </span>Ada" in page.text
    assert "Sign-up received" not in page.text


async def test_signing_up_with_a_taken_address_looks_the_same_and_changes_nothing(client):
    await _sign_up(client, "Ada", "ada@example.org")
    await client.post("/signout", data={"csrf_token": await _token(client, "/")})

    answers = []
    for email in ("ADA@example.org", "someone.new@example.org"):
        response = await client.post(
            "/signup",
            data={
                "csrf_token": await _token(client, "/signup"),
                "display_name": "Mallory",
                "email": email,
                "password": "mallory's own password",
            },
        )
        flash = await client.get(response.headers["location"])
        answers.append(
            (
                response.status_code,
                response.headers["location"],
                sorted(response.headers.keys()),
                flash.status_code,
                flash.text.replace(await _token(client), ""),
            )
        )
    assert answers[0] == answers[1]
    assert "already" not in answers[0][4].replace("If the address already had an account", "")
    mallory = await client.post("/api/v1/auth/token", data={"username": "ada@example.org", "password": "mallory's own password"})
    assert mallory.status_code == 401
    assert (await client.post("/api/v1/auth/token", data={"username": "ada@example.org", "password": PASSWORD})).status_code == 200


@pytest.mark.parametrize("password, says", [("short pass", "at least 12 characters"), ("Password1234", "most commonly used")])
async def test_a_weak_password_is_refused_on_the_sign_up_form_with_its_reason(client, password, says):
    response = await client.post(
        "/signup",
        data={"csrf_token": await _token(client, "/signup"), "display_name": "Weak", "email": "weak@example.org", "password": password},
    )
    assert response.status_code == 422
    assert says in response.text
    assert 'value="weak@example.org"' in response.text and password not in response.text


async def test_a_form_post_without_its_csrf_token_is_refused_and_nothing_happens(client):
    await client.get("/signup")  # the browser has its CSRF cookie, but the post lacks the token
    response = await client.post("/signup", data={"display_name": "Eve", "email": "eve@example.org", "password": PASSWORD})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "security token" in response.text
    forged = await client.post(
        "/signup", data={"csrf_token": "forged", "display_name": "Eve", "email": "eve@example.org", "password": PASSWORD}
    )
    assert forged.status_code == 403
    token = await client.post("/api/v1/auth/token", data={"username": "eve@example.org", "password": PASSWORD})
    assert token.status_code == 401  # no account was made


async def test_a_post_from_another_site_is_refused_even_with_a_token(client):
    token = await _token(client, "/signup")
    response = await client.post(
        "/signup",
        data={"csrf_token": token, "display_name": "Eve", "email": "eve@example.org", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


async def test_a_post_from_this_site_under_another_scheme_is_refused_and_the_default_port_is_the_same_site(client):
    form = {"csrf_token": await _token(client, "/signup"), "display_name": "Eve", "email": "eve@example.org", "password": PASSWORD}
    for origin in ("https://test", "http://test:8080", "http://test/elsewhere"):
        assert (await client.post("/signup", data=form, headers={"Origin": origin})).status_code == 403, origin
    response = await client.post("/signup", data=form, headers={"Origin": "http://test:80"})
    assert response.status_code == 303, response.text


async def test_signing_out_revokes_the_cookie_and_leaves_other_sessions_signed_in(client):
    email = await _sign_up(client)
    bearer = (await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).json()["access_token"]
    old_cookie = client.cookies.get("cogov_session")
    response = await client.post("/signout", data={"csrf_token": _csrf((await client.get("/")).text)})
    assert response.status_code == 303
    assert response.headers["clear-site-data"] == '"cache"'
    # This browser only: signing out everywhere is in the settings (tests/web/test_settings.py).
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {bearer}"})).status_code == 200
    # A copy of the old cookie no longer signs anyone in.
    client.cookies.set("cogov_session", old_cookie)
    page = await client.get("/me/affiliation")
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=/me/affiliation"


async def test_wrong_password_shows_the_form_again_with_an_error(client):
    email = await _sign_up(client)
    client.cookies.delete("cogov_session")
    response = await client.post("/signin", data={"csrf_token": await _token(client), "email": email, "password": "wrong password!"})
    assert response.status_code == 401
    assert "Incorrect email or password" in response.text
    assert f'value="{email}"' in response.text


async def test_sign_in_never_redirects_off_site(client):
    email = await _sign_up(client)
    client.cookies.delete("cogov_session")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = await client.post(
            "/signin", data={"csrf_token": await _token(client), "email": email, "password": PASSWORD, "next": target}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/"


async def test_page_errors_are_html_and_api_errors_stay_json(client):
    page = await client.get("/networks/no-such-network")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No network has the slug" in page.text
    missing = await client.get("/no/such/page")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    api = await client.get("/api/v1/networks/no-such-network")
    assert api.status_code == 404
    assert api.json()["code"] == "network_not_found"


async def test_invalid_fields_come_back_with_messages_and_what_was_typed(client):
    await _sign_up(client)
    response = await client.post(
        "/me/affiliation",
        data={
            "csrf_token": _csrf((await client.get("/me/affiliation")).text),
            "stakeholder_group": "aliens",
            "country": "ZZ",
            "organisation": "Mars",
        },
    )
    assert response.status_code == 422
    assert "Unknown stakeholder group" in response.text and "Unknown country" in response.text
    assert 'value="Mars"' in response.text
    assert 'aria-invalid="true"' in response.text


async def _member_with_network(client) -> tuple[str, str]:
    await _sign_up(client, "Norm Author")
    token = _csrf((await client.get("/me/affiliation")).text)
    await client.post("/me/affiliation", data={"csrf_token": token, "stakeholder_group": "civil_society", "country": "KE"})
    created = await client.post(
        "/networks/new",
        data={"csrf_token": token, "name": "Data Flows", "issue": "An issue.", "aims": "Aims.", "intended_outcome": "A norm."},
    )
    assert created.status_code == 303, created.text
    network = created.headers["location"]
    norm = await client.post(f"{network}/norms", data={"csrf_token": token, "title": "A norm", "text": "One two three."})
    assert norm.status_code == 303
    return token, norm.headers["location"]


async def test_without_javascript_members_edit_in_a_form_and_concurrent_edits_merge(client):
    token, norm = await _member_with_network(client)
    page = (await client.get(norm)).text
    heads = re.search(r'name="base_heads" value="([^"]*)"', page).group(1)
    # Two forms opened on the same text, sent one after the other: both edits survive.
    first = await client.post(
        f"{norm}/edit", data={"csrf_token": token, "base_heads": heads, "title": "A norm", "text": "Zero one two three."}
    )
    second = await client.post(
        f"{norm}/edit", data={"csrf_token": token, "base_heads": heads, "title": "A norm", "text": "One two three four.\r\n"}
    )
    assert first.status_code == second.status_code == 303
    text = (await client.get(norm)).text
    assert 'id="norm-text"><div class="line" dir="auto">Zero one two three four.\n</div><div class="line" dir="auto"></div></div>' in text


async def test_versions_and_the_diff_page(client):
    token, norm = await _member_with_network(client)
    assert (await client.post(f"{norm}/versions", data={"csrf_token": token, "label": "First"})).status_code == 303
    heads = re.search(r'name="base_heads" value="([^"]*)"', (await client.get(norm)).text).group(1)
    await client.post(f"{norm}/edit", data={"csrf_token": token, "base_heads": heads, "title": "A norm", "text": "One 2 three."})
    await client.post(f"{norm}/versions", data={"csrf_token": token, "label": "Second"})
    diff = await client.get(f"{norm}/diff?from=1&to=2")
    assert diff.status_code == 200
    assert re.search(r"<del><span class=\"visually-hidden\">\[deleted: </span>two<", diff.text)
    assert re.search(r"<ins><span class=\"visually-hidden\">\[inserted: </span>2<", diff.text)
    bad = await client.get(f"{norm}/diff?from=9&to=2")
    assert bad.status_code == 422 and "has no version 9" in bad.text
    empty_label = await client.post(f"{norm}/versions", data={"csrf_token": token, "label": " "})
    assert empty_label.status_code == 422
    assert 'id="version-label-error">A version needs a label' in empty_label.text


async def test_the_sync_ticket_needs_a_session_and_the_csrf_header(client):
    assert (await client.post("/web/sync-ticket")).status_code == 403  # no CSRF cookie or header
    token = await _token(client)
    assert (await client.post("/web/sync-ticket", headers={"X-CSRF-Token": token})).status_code == 401
    await _sign_up(client)
    token = _csrf((await client.get("/")).text)
    response = await client.post("/web/sync-ticket", headers={"X-CSRF-Token": token})
    assert response.status_code == 201
    assert response.json()["ticket"]
    assert response.headers["cache-control"] == "no-store"


async def test_the_directory_filters_and_reports_bad_filters_on_the_page(client):
    await _member_with_network(client)
    found = await client.get("/networks", params={"q": "Data", "status": "forming", "group": "civil_society"})
    assert "Data Flows" in found.text
    every_word = await client.get("/networks", params={"q": "flows  data"})
    assert "Data Flows" in every_word.text
    none = await client.get("/networks", params={"status": "active"})
    assert "No network matches" in none.text
    bad = await client.get("/networks", params={"region": "atlantis"})
    assert bad.status_code == 422 and "Unknown region" in bad.text


async def test_the_audit_page_lists_public_acts(client):
    await _member_with_network(client)
    page = await client.get("/audit", params={"target_type": "network"})
    assert page.status_code == 200
    assert "network.founded" in page.text or "network." in page.text
    assert "participant.registered" not in page.text


@pytest.mark.parametrize("seed_twice", [True])
async def test_the_demo_seeds_a_realistic_dataset_once(app, client, seed_twice):
    state = app.state
    seeded = await demo.seed(
        state.sessionmaker, state.norm_store, state.taxonomy, password="demo password 1", hashing=state.password_hashing
    )
    assert seeded is not None and seeded.experts == 30
    assert await demo.seed(state.sessionmaker, state.norm_store, state.taxonomy, hashing=state.password_hashing) is None  # idempotent
    networks = {item["name"]: item for item in (await client.get("/api/v1/networks")).json()["items"]}
    assert networks["Cross-border Data Flows and Privacy"]["status"] == "active"
    assert networks["Routing Security Collaborative"]["status"] == "active"
    assert networks["Transparency of AI Systems in Public Services"]["status"] == "forming"
    formation = (await client.get("/api/v1/networks/transparency-of-ai-systems-in-public-services/formation")).json()
    assert formation["groups_missing"] == ["private_sector"]
    # Verified by domain, by vouching and by the registrar; two people not yet; one network still counts everyone.
    roster = (await client.get("/api/v1/networks/cross-border-data-flows-and-privacy/members")).json()["items"]
    badges = {member["name"]: member["verification"]["words"] for member in roster}
    assert badges["Amina Diallo"] == "vouched by Liam O'Connor and Siti Rahmawati"
    assert badges["Sophie Laurent"] == "verified by registrar Rosa Registrar"
    assert badges["Kenji Watanabe"] == "verified by domain kaigan-cloud-k.example"
    assert formation["verified_only"] is True
    routing = (await client.get("/api/v1/networks/routing-security-collaborative/formation")).json()
    assert routing["verified_only"] is False
    routing_roster = (await client.get("/api/v1/networks/routing-security-collaborative/members")).json()["items"]
    assert {m["name"]: m["verification"]["words"] for m in routing_roster}["Diego Hernández"] == "unverified"
    norms = (await client.get("/api/v1/networks/cross-border-data-flows-and-privacy/norms")).json()
    assert norms[0]["current_version"] == 3
    # The drafting stage on the routing norm: a discussion, an accepted and a pending suggestion, an open sense check.
    [routing] = (await client.get("/api/v1/networks/routing-security-collaborative/norms")).json()
    [thread] = (await client.get(f"/api/v1/norms/{routing['id']}/threads")).json()
    assert len(thread["posts"]) == 2 and thread["posts"][0]["mentions"][0]["participant"]["display_name"] == "Priya Raman"
    suggested = {s["status"]: s for s in (await client.get(f"/api/v1/norms/{routing['id']}/suggestions")).json()}
    assert set(suggested) == {"accepted", "pending"} and not suggested["pending"]["outdated"]
    assert "whatever its size or the region it serves" in (await client.get(f"/api/v1/norms/{routing['id']}")).json()["text"]
    [check] = (await client.get(f"/api/v1/norms/{routing['id']}/sense-checks")).json()
    assert check["status"] == "open" and len(check["answers"]) == 3 and check["outcome"]["missing"]
    token = await client.post("/api/v1/auth/token", data={"username": "sophie.laurent@example.org", "password": "demo password 1"})
    assert token.status_code == 200
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["email_verified"] is True  # the demo's experts take part at once
    page = await client.get("/networks/cross-border-data-flows-and-privacy/norms/principles-for-trusted-cross-border-data-transfers")
    assert "7. Security" in page.text and "Kenji Watanabe" in page.text


async def test_people_signing_up_and_out_at_the_same_moment_all_succeed(app):
    """Sign-up and sign-out write: on SQLite they queue for the write lock instead of failing with 500."""
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") for _ in range(12)]
    try:
        for number, browser in enumerate(clients[:6]):
            await _sign_up(browser, f"Leaving Person {number}")
        tokens = [await _token(browser, "/" if number < 6 else "/signup") for number, browser in enumerate(clients)]

        async def act(number: int, browser: httpx.AsyncClient):
            if number < 6:
                return await browser.post("/signout", data={"csrf_token": tokens[number]})
            return await browser.post(
                "/signup",
                data={
                    "csrf_token": tokens[number],
                    "display_name": f"Joining Person {number}",
                    "email": f"joining{number}@example.org",
                    "password": PASSWORD,
                },
            )

        responses = await asyncio.gather(*(act(number, browser) for number, browser in enumerate(clients)))
        assert [response.status_code for response in responses] == [303] * 12, [r.text[:200] for r in responses if r.status_code != 303]
        for browser in clients[:6]:
            assert "Sign in" in (await browser.get("/")).text
        for number in range(6, 12):
            token = await clients[number].post(
                "/api/v1/auth/token", data={"username": f"joining{number}@example.org", "password": PASSWORD}
            )
            assert token.status_code == 200
    finally:
        for browser in clients:
            await browser.aclose()


def test_every_colour_slot_has_its_hue_and_line_in_the_stylesheet():
    """Pages colour authors by class (their policy allows no style attributes), so site.css must know each slot."""
    css = (STATIC_DIR / "site.css").read_text()
    declared: dict[str, dict[str, str]] = {}
    for selectors, prop, value in re.findall(r"^([^{}\n]+)\{ (--author(?:-line)?): ([^;]+); \}", css, re.MULTILINE):
        for selector in selectors.split(","):
            declared.setdefault(selector.strip(), {})[prop] = value
    for slot in range(colours.SLOTS):
        assert declared[f".{colours.css_class(slot)}"] == {"--author": colours.hue(slot), "--author-line": colours.line(slot)}


async def test_forms_refuse_control_characters_beside_the_field_and_say_which(client):
    token, norm = await _member_with_network(client)
    founded = await client.post(
        "/networks/new",
        data={"csrf_token": token, "name": "Data\x01Flows", "issue": "An issue.", "aims": "Aims.", "intended_outcome": "A norm."},
    )
    assert founded.status_code == 422
    assert 'id="name-error">Must not contain the control character U+0001 (at index 4' in founded.text
    assert 'value="Data\x01Flows"' in founded.text and 'aria-invalid="true"' in founded.text
    assert "An issue." in founded.text  # the rest of what was typed is kept too

    network = norm.rsplit("/norms/", 1)[0]
    created = await client.post(f"{network}/norms", data={"csrf_token": token, "title": "Bell\x07", "text": "Text."})
    assert created.status_code == 422  # the network page again, the refusal beside the title, the text kept
    assert "Must not contain the control character U+0007 (at index 4" in created.text and "Text." in created.text

    heads = re.search(r'name="base_heads" value="([^"]*)"', (await client.get(norm)).text).group(1)
    edited = await client.post(
        f"{norm}/edit", data={"csrf_token": token, "base_heads": heads, "title": "A norm", "text": "One two\x00 three."}
    )
    assert edited.status_code == 422
    assert 'id="edit-text-error">Must not contain the control character U+0000 (at index 7' in edited.text
    page = (await client.get(norm)).text
    assert 'id="norm-text"><div class="line" dir="auto">One two three.</div></div>' in page


async def test_static_files_named_by_their_content_are_cached_for_a_year_and_others_revalidated(client):
    immutable = "public, max-age=31536000, immutable"
    home = (await client.get("/")).text
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', home)
    assert linked, "the home page links its stylesheet and scripts by content"
    for url in linked:
        answer = await client.get(url.replace("&amp;", "&"))
        assert answer.status_code == 200 and answer.headers["cache-control"] == immutable, url
    bundle = bundle_files()
    if bundle is not None:  # the editor's bundle, when `make` built it
        for url in bundle.values():
            assert (await client.get(url)).headers["cache-control"] == immutable, url
    for unversioned in ("/static/site.css", "/static/site.css?v=000000000000", "/static/build/manifest.json"):
        answer = await client.get(unversioned)
        if answer.status_code == 200:
            assert answer.headers["cache-control"] == "no-cache", unversioned
    assert (await client.get("/static/no-such-file.css?v=abc")).status_code == 404
