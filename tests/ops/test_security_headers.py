"""Production defaults a browser sees: HSTS once served over https, nosniff everywhere, Secure cookies behind
TLS (or when told), and no cross-origin reads unless an origin is on the allowlist."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from services.api.app import create_app
from services.settings import Settings
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.databases import ON_SQLITE


async def _app(settings: Settings, **update):
    return create_app(settings.model_copy(update=update))


def _cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie of a response, by cookie name."""
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


async def _sign_up_in_browser(http: httpx.AsyncClient) -> httpx.Response:
    """Sign up, then sign in as the page leads to; the sign-in's answer (which sets the session cookie)."""
    page = await http.get("/signup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    email = f"c-{uuid.uuid4().hex[:8]}@example.org"
    form = {"csrf_token": token, "display_name": "Cookie Person", "email": email, "password": PASSWORD}
    signed_up = await http.post("/signup", data=form)
    assert signed_up.status_code == 303, signed_up.text
    return await http.post("/signin", data={"csrf_token": token, "email": email, "password": PASSWORD})


@ON_SQLITE
@pytest.mark.parametrize(
    "update, scheme, hsts, secure",
    [
        ({}, "http", None, False),
        ({"base_url": "https://cogov.example.org"}, "https", "max-age=31536000; includeSubDomains", True),
        (
            {"base_url": "https://cogov.example.org", "hsts_seconds": 600, "secure_cookies": False},
            "https",
            "max-age=600; includeSubDomains",
            False,
        ),
        ({"secure_cookies": True}, "https", None, True),
    ],
)
async def test_hsts_and_secure_cookies_follow_the_public_address(settings, update, scheme, hsts, secure):
    app = await _app(settings, **update)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"{scheme}://test") as http:
            answers = [await http.get(path) for path in ("/api/v1/networks", "/api/v1/no-such-thing", "/", "/healthz")]
            signed_up = await _sign_up_in_browser(http)
        for answer in answers:
            assert answer.headers.get("strict-transport-security") == hsts, answer.url
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert signed_up.status_code == 303, signed_up.text
        cookies = _cookies(signed_up)
        assert "cogov_session" in cookies
        for header in cookies.values():
            assert ("; secure" in header.lower()) is secure, header
            assert "httponly" in header.lower() and "samesite=lax" in header.lower()
    finally:
        await app.state.engine.dispose()


@ON_SQLITE
async def test_no_cross_origin_reads_by_default_and_only_listed_origins_when_configured(settings):
    closed = await _app(settings)
    listed = await _app(settings, allowed_origins=["https://partner.example"])
    try:
        for app, origin, allowed in [
            (closed, "https://partner.example", False),
            (closed, "https://evil.example", False),
            (listed, "https://partner.example", True),
            (listed, "https://evil.example", False),
            (listed, "https://partner.example.evil.example", False),
            (listed, "null", False),
        ]:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                read = await http.get("/api/v1/networks", headers={"Origin": origin})
                preflight = await http.options(
                    "/api/v1/networks",
                    headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
                )
            assert read.status_code == 200
            assert (read.headers.get("access-control-allow-origin") == origin) is allowed, (origin, read.headers)
            assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed, (origin, preflight.headers)
            assert "*" not in (read.headers.get("access-control-allow-origin"), preflight.headers.get("access-control-allow-origin"))
    finally:
        for app in (closed, listed):
            await app.state.engine.dispose()


def test_secure_cookies_unset_in_the_environment_means_follow_the_address(monkeypatch, tmp_path):
    monkeypatch.setenv("COGOV_SECURE_COOKIES", "")
    monkeypatch.setenv("COGOV_BASE_URL", "https://cogov.example.org")
    assert Settings(data_dir=tmp_path, _env_file=None).cookies_secure is True
    monkeypatch.setenv("COGOV_SECURE_COOKIES", "false")
    assert Settings(data_dir=tmp_path, _env_file=None).cookies_secure is False


def _policy(response: httpx.Response) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))


@ON_SQLITE
async def test_pages_carry_a_content_security_policy_with_a_fresh_nonce_and_every_response_the_other_headers(settings):
    app = await _app(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cogov.test:8000") as http:
            first, second = await http.get("/"), await http.get("/")
            api = await http.get("/api/v1/networks")
            docs = await http.get("/api/docs")
            forged = await http.get("/", headers={"Host": "evil.test; script-src *"})
        for answer in (first, api, docs):
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
            assert "camera=()" in answer.headers["permissions-policy"] and "geolocation=()" in answer.headers["permissions-policy"]
        assert "content-security-policy" not in api.headers  # JSON runs nothing; the policy is for pages
        page = _policy(first)
        assert page["script-src"] == "'self' 'wasm-unsafe-eval'"
        assert page["connect-src"] == "'self' ws://cogov.test:8000 wss://cogov.test:8000"
        assert page["frame-ancestors"] == "'none'" and page["default-src"] == "'none'"
        nonces = [re.search(r"'nonce-([^']+)'", _policy(answer)["style-src"]).group(1) for answer in (first, second)]
        assert nonces[0] != nonces[1]
        # A Host header cannot write directives: the sources that name the host are left out.
        assert _policy(forged)["connect-src"] == "'self'" and "script-src *" not in forged.headers["content-security-policy"]
        # Swagger UI: its CDN and its one inline script, by the nonce the policy names.
        docs_policy = _policy(docs)
        nonce = re.search(r"'nonce-([^']+)'", docs_policy["script-src"]).group(1)
        assert f'<script nonce="{nonce}">' in docs.text and "<script>" not in docs.text
        assert "https://cdn.jsdelivr.net" in docs_policy["script-src"]
    finally:
        await app.state.engine.dispose()
