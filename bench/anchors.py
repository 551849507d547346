"""The norm page's anchored comments in Chromium: how long following every passage through an edit takes.

    python -m bench.anchors [--chars 20000] [--comments 100] [--runs 40]

Starts `cogov serve` (SQLite), makes a norm of about `--chars` characters, tags v1, opens a consultation
and posts `--comments` comments anchored on passages spread through the text; then opens the norm page
in Chromium (/usr/bin/chromium) and measures, in the page:
  1. the time from navigation until every passage is highlighted by the live editor;
  2. one resolution of all anchors (Automerge cursors → positions → highlights → comment column aligned),
     after an edit at the start of the text, median and p95 over `--runs` edits (the page resolves at most
     every 150 ms while someone types; in between, highlights follow the editor's transactions);
  3. the column's alignment alone, median over `--runs` calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from bench.machine import describe, percentile
from bench.seed import ROOT, confirm_served_addresses, serving, without_rate_limits

SECRET = "bench-anchors-" + "x" * 40
PASSWORD = "correct horse battery staple"
SENTENCE = "Operators keep records of their route announcements for audit by peers. "
CHROMIUM = "/usr/bin/chromium"


def person(api: httpx.Client, name: str, group: str) -> dict:
    email = f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.org"
    created = api.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
    assert created.status_code == 202, created.text
    confirm_served_addresses(api)
    token = api.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.put("/api/v1/me/affiliation", json={"stakeholder_group": group, "country": "FR"}, headers=headers).status_code == 200
    return {"headers": headers}


def seed(api: httpx.Client, chars: int, comments: int) -> str:
    convener, member, reader = (
        person(api, "Convener", "civil_society"),
        person(api, "Member", "private_sector"),
        person(api, "Reader", "government"),
    )
    body = {"name": "Bench network", "issue": "An issue.", "aims": "Aims.", "intended_outcome": "A norm."}
    slug = api.post("/api/v1/networks", json=body, headers=convener["headers"]).json()["slug"]
    assert api.post(f"/api/v1/networks/{slug}/join", headers=member["headers"]).status_code == 201
    paragraphs = [f"{n}. {SENTENCE * 3}" for n in range(1, chars // (len(SENTENCE) * 3) + 2)]
    text = "\n\n".join(paragraphs)[:chars]
    norm = api.post(f"/api/v1/networks/{slug}/norms", json={"title": "Bench norm", "text": text}, headers=convener["headers"], timeout=600)
    assert norm.status_code == 201, norm.text
    norm = norm.json()
    assert api.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "v1"}, headers=convener["headers"]).status_code == 201
    closes = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    consultation = api.post(
        f"/api/v1/norms/{norm['id']}/consultations", json={"version": 1, "closes_at": closes, "question": "?"}, headers=convener["headers"]
    ).json()
    step = max(len(text) // comments, 20)
    for n in range(comments):
        start = n * step
        made = api.post(
            f"/api/v1/consultations/{consultation['id']}/comments",
            json={"body": f"Comment {n}", "anchor": {"start": start, "end": start + 12}},
            headers=reader["headers"],
        )
        assert made.status_code == 201, made.text
    return f"/networks/{slug}/norms/{norm['slug']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=20_000)
    parser.add_argument("--comments", type=int, default=100)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"bench.anchors drives Chromium at {CHROMIUM}: apt-get install chromium")
    if not (ROOT / "services" / "web" / "static" / "build" / "manifest.json").is_file():
        raise SystemExit("bench.anchors needs the live editor's bundle: `make bundle` (Node.js and npm) builds it")
    without_rate_limits()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp, serving(tmp, SECRET) as api:
        started = time.perf_counter()
        path = seed(api, args.chars, args.comments)
        print(f"seeding took {time.perf_counter() - started:.0f} s", file=sys.stderr)
        rows = measure(str(api.base_url).rstrip("/") + path, args)
    print(f"text of {args.chars:,} characters, {args.comments} anchored comments, Chromium 1280×900, one page")
    print("| what | median | p95 |\n|---|---|---|")
    for row in rows:
        print(row)


def measure(url: str, args) -> list[str]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        loads = []
        for _ in range(3):
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_function(
                f"() => document.querySelectorAll('#editor .cm-anchored').length > 0 && "
                f"window.cogovEditor && window.cogovEditor.anchors.places.size === {args.comments}",
                timeout=120_000,
            )
            loads.append(time.perf_counter() - started)
        resolves = page.evaluate(
            """(runs) => {
                const {view, anchors} = window.cogovEditor, times = [];
                for (let i = 0; i < runs; i++) {
                    view.dispatch({changes: {from: 0, insert: 'x'}});
                    const started = performance.now();
                    anchors.resolve();
                    times.push(performance.now() - started);
                }
                return times;
            }""",
            args.runs,
        )
        aligns = page.evaluate(
            """(runs) => {
                const {anchors} = window.cogovEditor, times = [];
                for (let i = 0; i < runs; i++) {
                    const started = performance.now();
                    anchors.align();
                    times.push(performance.now() - started);
                }
                return times;
            }""",
            args.runs,
        )
        browser.close()
    return [
        f"| page load until every passage is highlighted (3 loads) | {statistics.median(loads) * 1000:.0f} ms | — |",
        f"| resolve all anchors after an edit (with highlights and column) | {statistics.median(resolves):.1f} ms"
        f" | {percentile(resolves, 95):.1f} ms |",
        f"| align the comment column alone | {statistics.median(aligns):.1f} ms | {percentile(aligns, 95):.1f} ms |",
    ]


if __name__ == "__main__":
    main()
