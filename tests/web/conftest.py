"""Browser tests: the real app under uvicorn on 127.0.0.1, driven by Debian's Chromium through Playwright.

Chromium is /usr/bin/chromium (never `playwright install`); without it, or without the editor
bundle (`make bundle`), the browser tests skip, or fail under COGOV_REQUIRE_SERVICES=1. One
server and one browser serve the whole session; each test makes its own people and networks.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

import migrations
from services.api.app import create_app
from services.settings import Settings
from services.web.templating import MANIFEST
from tests.conftest import PASSWORD, TEST_SECRET, service_unavailable

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "services" / "web" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-results" / "pages"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Generous waits for a loaded 2-core machine: they bound how long a test may wait, they measure nothing.
WAIT_MS = 15_000


def pytest_collection_modifyitems(items: list) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, and async tests after it could not start theirs."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def _need_browser() -> None:
    if not CHROMIUM.exists():
        service_unavailable(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if not MANIFEST.is_file():
        service_unavailable("the live editor bundle (run `make bundle`: npm ci and the esbuild build)")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """pytest-playwright's launch options: Debian's Chromium, headless."""
    _need_browser()
    return {"executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args() -> dict:
    return {"viewport": {"width": 1200, "height": 900}, "locale": "en-GB"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.api = httpx.Client(base_url=url, timeout=30)

    def person(self, name: str | None = None, *, group: str | None = None, country: str | None = None,
               organisation: str | None = None) -> dict:
        """A registered participant (with an affiliation if `group` is given), made through the JSON API."""
        name = name or f"Expert {uuid.uuid4().hex[:6]}"
        email = f"{re.sub(r'[^a-z0-9]+', '.', name.lower()).strip('.')}.{uuid.uuid4().hex[:6]}@example.org"
        created = self.api.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
        assert created.status_code == 202, created.text
        token = self.api.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        person = {"id": self.api.get("/api/v1/me", headers=headers).json()["id"], "name": name, "email": email, "headers": headers}
        if group is not None:
            body = {"stakeholder_group": group, "country": country or "FR", "organisation": organisation}
            response = self.api.put("/api/v1/me/affiliation", json=body, headers=person["headers"])
            assert response.status_code == 200, response.text
        return person

    def network(self, founder: dict, *members: dict, name: str | None = None) -> str:
        """An open network founded by `founder`, joined by `members`; its slug."""
        body = {"name": name or f"Network {uuid.uuid4().hex[:8]}", "issue": "A specific problem.", "aims": "Some aims.",
                "intended_outcome": "A norm."}
        created = self.api.post("/api/v1/networks", json=body, headers=founder["headers"])
        assert created.status_code == 201, created.text
        slug = created.json()["slug"]
        for member in members:
            joined = self.api.post(f"/api/v1/networks/{slug}/join", headers=member["headers"])
            assert joined.status_code == 201, joined.text
        return slug

    def norm(self, author: dict, network: str, title: str, text: str) -> dict:
        created = self.api.post(f"/api/v1/networks/{network}/norms", json={"title": title, "text": text}, headers=author["headers"])
        assert created.status_code == 201, created.text
        norm = created.json()
        norm["page"] = f"{self.url}/networks/{network}/norms/{norm['slug']}"
        return norm

    def text_of(self, norm: dict) -> str:
        return self.api.get(f"/api/v1/norms/{norm['id']}").json()["text"]

    def wait_for_text(self, norm: dict, expected: str) -> None:
        """Wait (up to WAIT_MS) until the server holds exactly this text; fail showing what it holds."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while (text := self.text_of(norm)) != expected:
            if time.monotonic() > deadline:
                assert text == expected, "the server never got the text"
            time.sleep(0.1)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    _need_browser()
    folder = tmp_path_factory.mktemp("live")
    database_url = f"sqlite+aiosqlite:///{folder / 'cogov.db'}"
    migrations.upgrade(database_url)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=database_url, secret_key=TEST_SECRET, data_dir=folder / "var", base_url=url,
                        log_level="warning", _env_file=None)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    live = LiveServer(url, settings)
    yield live
    live.api.close()
    server.should_exit = True
    thread.join(timeout=15)


def shoot(page, name: str) -> Path:
    """A full-page screenshot under test-results/pages/, for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, live: LiveServer, person: dict) -> None:
    page.goto(f"{live.url}/signin")
    page.fill("#email", person["email"])
    page.fill("#password", PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}/")


def open_editor(page, url: str) -> None:
    """Open a norm page and wait until its live editor runs and is connected."""
    page.goto(url)
    page.wait_for_selector("#editor[data-live=true] .cm-content", timeout=WAIT_MS)
    page.wait_for_selector('#connection[data-state="connected"]', timeout=WAIT_MS)


def axe_violations(page) -> list[dict]:
    """Serious and critical axe-core violations on the page as it is now."""
    if not AXE.is_file():
        service_unavailable("axe-core (npm ci in services/web/frontend)")
    # Through the DevTools protocol, which the page's Content-Security-Policy does not govern (a script tag it would refuse).
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def describe(violations: list[dict]) -> str:
    return json.dumps(violations, indent=1)


@pytest.fixture
def new_page(browser):
    """Make pages in fresh browser contexts (separate cookies and storage); all closed after the test."""
    contexts = []

    def make(**options):
        context = browser.new_context(**{"viewport": {"width": 1200, "height": 900}, **options})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
