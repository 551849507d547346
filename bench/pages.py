"""Light pages: what each page costs on a slow line, and how fast readers following a norm over
Server-Sent Events hear a member's typing.

    python -m bench.pages [--readers 500] [--edits 60] [--edit-ms 200]

Starts `cogov serve` (SQLite), seeds an active network of four members, a norm of about 3 KB (English
and Arabic lines) and an adopted version of it published in the clearing house.
  1. pages: each page opened in a fresh Chromium context (a cold cache) on emulated slow 3G
     (Network.emulateNetworkConditions: 400 kbit/s each way, 400 ms latency): bytes transferred (every
     response's encoded length, headers included; the norm reader's open event stream aside) and the
     time from navigation start to the page's text on screen (the norm's text for norm pages, the
     entry's text for the clearing-house entry, the heading otherwise), read in the page at the
     animation frame it appears. For the member, also the time until the live editor runs. For the
     reader, also how long a member's edit takes to show on that slow line. In each of `--languages`
     (English and Arabic by default), chosen as the header's switch keeps it (its cookie).
  2. fan-out: `--readers` Server-Sent Events clients (httpx, one process, 127.0.0.1) follow the norm
     while a member types `--edits` characters through the REST edit API, one every `--edit-ms` ms:
     for each character and each reader, the time from the edit's request to the reader holding it;
     p50, p99 and max.
Targets (issue 25): the reader's norm page under 40 KB, its text visible in under 2 s on slow 3G and
following live edits; 500 readers' p99 delivery under 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from bench.machine import describe, percentile
from bench.seed import ROOT, confirm_served_addresses, serving, without_rate_limits
from services.web.i18n import LANGUAGE_COOKIE

SECRET = "bench-pages-" + "x" * 40
PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 120_000
# Emulated slow 3G, as issue 25 states it: 400 kbit/s, 400 ms.
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
COUNCIL = [
    ("Amina", "civil_society", "KE"),
    ("Bruno", "private_sector", "BR"),
    ("Chen", "technical_academic", "SG"),
    ("Dana", "civil_society", "DE"),
]
CHARTER = {
    # The benchmark's people are not verified: the network counts every member.
    "verified_only": False,
    "required_groups": ["civil_society", "private_sector", "technical_academic"],
    "min_regions": 3,
    "signoff": {"quorum": "1/2", "threshold": "1/2", "min_ballot_hours": 1},
}
ARTICLE = (
    "Article {n}. Operators publish the criteria by which their systems rank, recommend and remove content, "
    "in plain language, and keep a record of each change to them for five years.\n"
    "(المادة {n}، الفقرة 2). يحق لكل شخص أن يطلب مراجعة بشرية لأي قرار آلي يمسه.\n"
)
# In the page: performance.now() at the first animation frame where `selector` holds `expected`.
SHOWN = """([selector, expected]) => {
  const element = document.querySelector(selector)
  return element && element.textContent.includes(expected) && element.getClientRects().length ? performance.now() : false
}"""


def wait_until_ready(api: httpx.Client, seconds: float = 180) -> None:
    """`serving` waits 30 s; a loaded machine may take longer to start a server."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if api.get("/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not start")


def person(api: httpx.Client, name: str, group: str, country: str) -> dict:
    email = f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.org"
    created = api.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
    assert created.status_code == 202, created.text
    confirm_served_addresses(api)
    token = api.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.put("/api/v1/me/affiliation", json={"stakeholder_group": group, "country": country}, headers=headers).status_code == 200
    return {"email": email, "headers": headers, "name": name}


def seed(api: httpx.Client) -> dict:
    """An active council, a norm, its v1 adopted and published, then edited on: every page has content."""
    people = [person(api, *row) for row in COUNCIL]
    headers = people[0]["headers"]
    body = {"name": "Platform Transparency Council", "issue": "Ranking is opaque.", "aims": "Transparency.", "intended_outcome": "A norm."}
    created = api.post("/api/v1/networks", json=body | {"charter": CHARTER}, headers=headers)
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for member in people[1:]:
        assert api.post(f"/api/v1/networks/{slug}/join", headers=member["headers"]).status_code == 201
    text = "".join(ARTICLE.format(n=n) for n in range(1, 11)).rstrip("\n")
    made = api.post(f"/api/v1/networks/{slug}/norms", json={"title": "Ranking transparency", "text": text}, headers=headers)
    assert made.status_code == 201, made.text
    norm = made.json()
    assert api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "For sign-off"}, headers=headers).status_code == 201
    closes = (time.time() + 2 * 86400) * 1000
    ballot = api.post(
        f"/api/v1/norms/{norm['id']}/ballots",
        json={"version": 1, "closes_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(closes / 1000))},
        headers=headers,
    )
    assert ballot.status_code == 201, ballot.text
    for member in people:
        voted = api.put(f"/api/v1/ballots/{ballot.json()['id']}/vote", json={"position": "approve"}, headers=member["headers"])
        assert voted.status_code == 200, voted.text
    for _ in range(600):
        entries = api.get("/api/v1/clearinghouse/entries", params={"network": slug}).json()["items"]
        if entries:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("the adopted norm was never published in the clearing house")
    entry_page = f"/clearinghouse/{slug}/{norm['slug']}/v1"
    return {"people": people, "slug": slug, "norm": norm, "text": text, "entry": entry_page}


def sign_in(page: Page, base: str, who: dict) -> None:
    page.goto(f"{base}/signin")
    page.fill("#email", who["email"])
    page.fill("#password", PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def measure(
    browser, base: str, path: str, selector: str, expected: str, who: dict | None, editor: bool, line: dict | None, language: str
) -> dict:
    """One cold load of `path` on slow 3G in `language` (the header's switch, kept in its cookie): bytes, time to
    text, and (for a member) time to the live editor."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    if who is not None:
        sign_in(page, base, who)  # on a fast line: the sign-in is not what is measured
    context.add_cookies([{"name": LANGUAGE_COOKIE, "value": language, "url": base}])
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.clearBrowserCache")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    if line is not None:
        cdp.send("Network.emulateNetworkConditions", line)
    finished: dict[str, int] = {}
    streams: set[str] = set()
    cdp.on("Network.responseReceived", lambda e: streams.add(e["requestId"]) if "event-stream" in e["response"]["mimeType"] else None)
    cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    page.goto(base + path, wait_until="commit")
    shown = page.wait_for_function(SHOWN, arg=[selector, expected], polling="raf", timeout=WAIT_MS).json_value()
    first_byte = "() => performance.getEntriesByType('navigation')[0].responseStart"
    result = {"text_ms": shown, "first_byte_ms": page.evaluate(first_byte)}
    if editor:
        ready = "() => document.querySelector('#editor[data-live=true] .cm-content') ? performance.now() : false"
        result["editor_ms"] = page.wait_for_function(ready, polling="raf", timeout=WAIT_MS).json_value()
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)  # what loads after `load` (the wasm, the event stream's first bytes)
    result["bytes"] = sum(size for request, size in finished.items() if request not in streams)
    result["page"] = page
    result["context"] = context
    return result


def pages_on_slow_3g(api: httpx.Client, site: dict, line: dict | None, languages: list[str]) -> list[tuple[str, str, dict]]:
    base = str(api.base_url).rstrip("/")
    norm_path = f"/networks/{site['slug']}/norms/{site['norm']['slug']}"
    first_line = site["text"].split("\n", 1)[0]
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        for language in languages:
            for label, path, selector, expected, who, editor in (
                ("home", "/", "main h1", "", None, False),
                ("network", f"/networks/{site['slug']}", "main h1", "Platform Transparency Council", None, False),
                ("norm, reader (signed out)", norm_path, "#norm-text", first_line, None, False),
                ("norm, member", norm_path, "#norm-text, #editor .cm-content", first_line, site["people"][1], True),
                ("clearing-house entry", site["entry"], "main .norm-text", first_line, None, False),
            ):
                result = measure(browser, base, path, selector, expected, who, editor, line, language)
                if label.startswith("norm, reader"):
                    result["edit_ms"] = follow_an_edit(api, site, result["page"])
                result["context"].close()
                results.append((label, language, result))
        browser.close()
    return results


def follow_an_edit(api: httpx.Client, site: dict, page: Page) -> float:
    """A member's edit, from its request to the slow-3G reader's page showing it."""
    page.wait_for_selector('#connection[data-state="connected"]', timeout=WAIT_MS)
    marker = f" [{uuid.uuid4().hex[:6]}]"
    started = page.evaluate("() => performance.now()")
    edit = {"splices": [{"index": len(site["text"].split("\n", 1)[0]), "insert": marker}]}
    answer = api.post(f"/api/v1/norms/{site['norm']['id']}/edits", json=edit, headers=site["people"][0]["headers"])
    assert answer.status_code == 200, answer.text
    site["text"] = api.get(f"/api/v1/norms/{site['norm']['id']}").json()["text"]
    shown = page.wait_for_function(SHOWN, arg=["#norm-text", marker], polling="raf", timeout=WAIT_MS).json_value()
    return shown - started


async def fan_out(base: str, site: dict, readers: int, edits: int, edit_ms: int) -> tuple[list[float], int]:
    """`readers` SSE clients, a member typing `edits` characters: each character's delivery time to each reader (ms)."""
    norm_id, headers = site["norm"]["id"], site["people"][0]["headers"]
    sent: list[float] = []
    delays: list[float] = []
    ready = asyncio.Event()
    connected = 0
    limits = httpx.Limits(max_connections=readers + 10, max_keepalive_connections=readers + 10)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, read=None), limits=limits) as http:
        length = len((await http.get(f"/api/v1/norms/{norm_id}")).json()["text"])

        async def read() -> None:
            nonlocal connected
            held = 0  # characters typed that this reader holds (each edit appends one)
            async with http.stream("GET", f"/api/v1/norms/{norm_id}/text/events") as response:
                name = ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data = json.loads(line[5:])
                        if name == "text":
                            held = len(data["text"]) - length
                            connected += 1
                            if connected == readers:
                                ready.set()
                        elif name == "splice":
                            now = time.perf_counter()
                            for n in range(held, held + len(data["insert"]) - data["delete"]):
                                delays.append((now - sent[n]) * 1000)
                            held += len(data["insert"]) - data["delete"]
                            if held >= edits:
                                return

        tasks = [asyncio.create_task(read()) for _ in range(readers)]
        await asyncio.wait_for(ready.wait(), 900)
        async with httpx.AsyncClient(base_url=base, timeout=30) as writer:
            for n in range(edits):
                at = time.perf_counter()
                sent.append(at)
                edit = {"splices": [{"index": length + n, "insert": "x"}]}
                answer = await writer.post(f"/api/v1/norms/{norm_id}/edits", json=edit, headers=headers)
                assert answer.status_code == 200, answer.text
                await asyncio.sleep(max(0, at + edit_ms / 1000 - time.perf_counter()))
        done, pending = await asyncio.wait(tasks, timeout=60)
        for task in pending:
            task.cancel()
        for task in done:
            task.result()
    return delays, len(pending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=500, help="Server-Sent Events readers following one norm")
    parser.add_argument("--edits", type=int, default=60, help="characters the member types while they follow")
    parser.add_argument("--edit-ms", type=int, default=200, help="time between the member's edits")
    parser.add_argument("--languages", default="en,ar", help="interface languages to load the pages in (comma-separated)")
    parser.add_argument("--skip-pages", action="store_true", help="only the fan-out (no Chromium)")
    parser.add_argument("--unthrottled", action="store_true", help="pages on the loopback's own speed (a quick check that it runs)")
    args = parser.parse_args()
    if not args.skip_pages and not Path(CHROMIUM).is_file():
        raise SystemExit(f"bench.pages drives Chromium at {CHROMIUM}: apt-get install chromium")
    if not (ROOT / "services" / "web" / "static" / "build" / "manifest.json").is_file():
        raise SystemExit("bench.pages needs the live editor's bundle: `make bundle` (Node.js and npm) builds it")
    without_rate_limits()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp, serving(tmp, SECRET) as api:
        wait_until_ready(api)
        site = seed(api)
        if not args.skip_pages:
            line = None if args.unthrottled else SLOW_3G
            where = "the loopback, unthrottled" if line is None else "emulated slow 3G (400 kbit/s, 400 ms latency)"
            languages = args.languages.split(",")
            print(f"pages on {where}, cold cache, in {', '.join(languages)}")
            print("| page | language | transferred | first byte | text visible | live editor ready | a member's edit shown |")
            print("|---|---|---|---|---|---|---|")
            for label, language, result in pages_on_slow_3g(api, site, line, languages):
                editor = f"{result['editor_ms'] / 1000:.2f} s" if "editor_ms" in result else "—"
                edit = f"{result['edit_ms']:.0f} ms" if "edit_ms" in result else "—"
                print(
                    f"| {label} | {language} | {result['bytes'] / 1024:.1f} KB | {result['first_byte_ms'] / 1000:.2f} s | "
                    f"{result['text_ms'] / 1000:.2f} s | {editor} | {edit} |"
                )
        base = str(api.base_url).rstrip("/")
        delays, stuck = asyncio.run(fan_out(base, site, args.readers, args.edits, args.edit_ms))
    print(
        f"| {args.readers} SSE readers, a member typing {args.edits} characters every {args.edit_ms} ms | "
        f"{len(delays)} deliveries | p50 {percentile(delays, 50):.0f} ms | p99 {percentile(delays, 99):.0f} ms | "
        f"max {max(delays):.0f} ms | {stuck} readers short |"
    )


if __name__ == "__main__":
    main()
