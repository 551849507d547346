"""Two live editors in Chromium on one norm: how long a keystroke takes to reach the other, and how many
changes typing makes.

    python -m bench.browser [--idle 30] [--seconds 10] [--key-ms 100]

Starts `cogov serve` (SQLite), makes two members of one network and a norm, and opens the norm page for
each in its own Chromium context (/usr/bin/chromium), signed in through the sign-in page. A keystroke is
a CodeMirror input transaction in one page (what typing a key makes); it has reached the peer when the
peer's editor shows it. Both pages are in one browser on one
machine, so their clocks (`performance.timeOrigin + performance.now()`) are one clock.
  1. idle: one typist types one key, waits until the peer has it, pauses 600 ms (longer than a burst),
     `--idle` times: keystroke-to-peer p50 and p95;
  2. typing: both type continuously, one key every `--key-ms` ms for `--seconds` seconds (A at the end of
     the text, B at its start): keystroke-to-peer p50 and p95 over both directions, and the changes the
     server stored per second for each typist (from the norm's history).
Targets (issue 21): idle p50 under 100 ms, typing p95 under 250 ms, at most 5 changes a second per typist.

Then where each keystroke's time went, in four legs: held in the editor until its change is made; from the
change to its sync frame leaving the page; from there until a sync frame's message event runs in the peer's
page (the server, which stores the change before it relays it, two loopback hops, and the peer's main thread
getting to the event); and from that event until the peer's editor shows the key. The load average at the
end is printed too: the machine's other work moves these figures more than anything else.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from bench.machine import describe, percentile
from bench.seed import ROOT, confirm_served_addresses, serving, without_rate_limits

SECRET = "bench-browser-" + "x" * 40
PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 120_000
# Each typist types only its own character, so a peer counts how many of them it holds.
KEYS = {"A": "x", "B": "y"}

# Installed in each page: the times its editor first showed n characters of each typist's key.
WATCH = """(keys) => {
  const { view } = window.cogovEditor
  const seen = window.benchSeen = Object.fromEntries(keys.map(key => [key, []]))
  const count = (text, key) => text.split(key).length - 1
  const note = () => {
    const text = view.state.doc.toString()
    const now = performance.timeOrigin + performance.now()
    for (const key of keys) while (seen[key].length < count(text, key)) seen[key].push(now)
  }
  note()
  // When the editor makes a change, and how many of each key the document then holds.
  const handle = window.cogovEditor.handle
  const changeAt = handle.changeAt.bind(handle)
  handle.changeAt = (...args) => {
    const heads = changeAt(...args)
    const body = String(handle.doc().body)
    window.benchFrames.made.push([performance.timeOrigin + performance.now(), Object.fromEntries(keys.map(key => [key, count(body, key)]))])
    return heads
  }
  // What the peer's editor shows, as it shows it.
  new MutationObserver(note).observe(view.contentDOM, { childList: true, subtree: true, characterData: true })
}"""

# Installed before each page's scripts: when each sync frame left or reached the page (the socket's own
# events, before the editor sees them), and when the editor made each change (how many of the typist's
# keys the document then held), to split a keystroke's trip into held / sent / relayed / shown.
FRAMES = """(() => {
  const now = () => performance.timeOrigin + performance.now()
  const frames = window.benchFrames = { sent: [], received: [], made: [] }
  // automerge-repo frames are CBOR maps whose "type" is the text "sync" (or "ephemeral", ...).
  const isSync = data => {
    if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) return false
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    for (let i = 0; i + 4 <= Math.min(bytes.length, 64); i++)
      if (bytes[i] === 0x73 && bytes[i + 1] === 0x79 && bytes[i + 2] === 0x6e && bytes[i + 3] === 0x63) return true
    return false
  }
  const Native = window.WebSocket
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args)
      this.addEventListener("message", event => isSync(event.data) && frames.received.push(now()))
    }
    send(data) {
      if (isSync(data)) frames.sent.push(now())
      super.send(data)
    }
  }
})()"""

# Types `count` keys, one every `keyMs` ms, at the end or the start; resolves with the time of each.
TYPE = """async ([key, count, keyMs, atEnd]) => {
  const { view } = window.cogovEditor
  const sent = []
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const at = atEnd ? view.state.doc.length : 0
    sent.push(performance.timeOrigin + performance.now())
    view.dispatch({ changes: { from: at, insert: key }, selection: { anchor: at + 1 }, userEvent: "input.type" })
    // On schedule (a late timer shortens the next wait), so the keys keep their rate on a loaded machine.
    if (keyMs) await new Promise(resolve => setTimeout(resolve, Math.max(0, start + (i + 1) * keyMs - performance.now())))
  }
  return sent
}"""


def person(api: httpx.Client, name: str, group: str, country: str) -> dict:
    email = f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.org"
    created = api.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
    confirm_served_addresses(api)
    assert created.status_code == 202, created.text
    token = api.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    affiliation = {"stakeholder_group": group, "country": country}
    assert api.put("/api/v1/me/affiliation", json=affiliation, headers=headers).status_code == 200
    participant = api.get("/api/v1/me", headers=headers).json()["id"]
    return {"email": email, "headers": headers, "id": participant}


def seed(api: httpx.Client) -> tuple[dict, dict, dict]:
    ana, ben = person(api, "Ana", "civil_society", "FR"), person(api, "Ben", "private_sector", "KE")
    body = {"name": "Bench network", "issue": "An issue.", "aims": "Aims.", "intended_outcome": "A norm."}
    slug = api.post("/api/v1/networks", json=body, headers=ana["headers"]).json()["slug"]
    assert api.post(f"/api/v1/networks/{slug}/join", headers=ben["headers"]).status_code == 201
    made = api.post(f"/api/v1/networks/{slug}/norms", json={"title": "Bench norm", "text": "Start."}, headers=ana["headers"])
    assert made.status_code == 201, made.text
    norm = made.json()
    norm["path"] = f"/networks/{slug}/norms/{norm['slug']}"
    return ana, ben, norm


def changes_by(api: httpx.Client, norm: dict) -> dict[str, int]:
    """How many changes each participant has in the norm's history."""
    counts: dict[str, int] = {}
    cursor = None
    while True:
        params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"/api/v1/norms/{norm['id']}/history", params=params).json()
        for entry in page["items"]:
            counts[entry["participant"]["id"]] = counts.get(entry["participant"]["id"], 0) + 1
        cursor = page.get("next_cursor")
        if not cursor:
            return counts


def open_editor(page: Page, base: str, who: dict, path: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#email", who["email"])
    page.fill("#password", PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    page.goto(base + path)
    page.wait_for_selector('#connection[data-state="connected"]', timeout=WAIT_MS)
    page.evaluate(WATCH, list(KEYS.values()))


def wait_for_keys(page: Page, key: str, count: int) -> list[float]:
    page.wait_for_function("([key, count]) => window.benchSeen[key].length >= count", arg=[key, count], timeout=WAIT_MS)
    return page.evaluate("(key) => window.benchSeen[key]", key)


def latencies(sent: list[float], arrived: list[float], before: int) -> list[float]:
    """Milliseconds from each key typed to the peer holding it (the n-th key arrives with the n-th character)."""
    return [arrived[before + i] - at for i, at in enumerate(sent)]


def trips(typed: list[float], arrived: list[float], before: int, key: str, sender: dict, receiver: dict) -> list[tuple[float, ...]]:
    """Each key's trip in four legs (ms): held in the editor until its change was made; from the change to a
    sync frame leaving the page (automerge-repo's sync); from there to the last sync frame the peer's page
    heard before showing the key (the server storing and relaying it, the loopback, the peer's main thread);
    and from that frame to the peer's editor showing it (decoding, applying, rendering)."""
    legs = []
    for i, at in enumerate(typed):
        shown = arrived[before + i]
        made = next((t for t, counts in sender["made"] if counts[key] >= before + i + 1 and t >= at), shown)
        left = next((t for t in sender["sent"] if t >= made), shown)
        reached = max((t for t in receiver["received"] if left <= t <= shown), default=shown)
        legs.append((made - at, left - made, reached - left, shown - reached))
    return legs


def breakdown(label: str, legs: list[tuple[float, ...]]) -> None:
    """Where the keys' time went: each leg's p50 / p95, and on average for the slowest twentieth of the keys."""
    totals = [sum(leg) for leg in legs]
    slow = [leg for leg, total in zip(legs, totals, strict=True) if total >= percentile(totals, 95)]
    cells = []
    for n in range(4):
        values = [leg[n] for leg in legs]
        tail = statistics.mean(leg[n] for leg in slow)
        cells.append(f"{statistics.median(values):.0f} / {percentile(values, 95):.0f} / {tail:.0f} ms")
    print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=30, help="idle keystrokes, each after a 600 ms pause")
    parser.add_argument("--seconds", type=float, default=10, help="how long both type continuously")
    parser.add_argument("--key-ms", type=int, default=100, help="time between keys while typing (100 ms: 10 keys a second)")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"bench.browser drives Chromium at {CHROMIUM}: apt-get install chromium")
    if not (ROOT / "services" / "web" / "static" / "build" / "manifest.json").is_file():
        raise SystemExit("bench.browser needs the live editor's bundle: `make bundle` (Node.js and npm) builds it")
    without_rate_limits()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp, serving(tmp, SECRET) as api:
        ana, ben, norm = seed(api)
        base = str(api.base_url).rstrip("/")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
            contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(2)]
            for context in contexts:
                context.add_init_script(FRAMES)
            first, second = (context.new_page() for context in contexts)
            open_editor(first, base, ana, norm["path"])
            open_editor(second, base, ben, norm["path"])

            idle: list[float] = []
            idle_typed: list[float] = []
            for n in range(args.idle):
                time.sleep(0.6)
                sent = first.evaluate(TYPE, [KEYS["A"], 1, 0, True])
                idle_typed += sent
                idle += latencies(sent, wait_for_keys(second, KEYS["A"], n + 1), n)

            keys = max(1, round(args.seconds * 1000 / args.key_ms))
            before = changes_by(api, norm)
            time.sleep(0.6)
            # Both start typing together: each page keeps its typing's promise, awaited once both have started.
            started = time.perf_counter()
            first.evaluate(f"(args) => {{ window.benchTyping = ({TYPE})(args) }}", [KEYS["A"], keys, args.key_ms, True])
            second.evaluate(f"(args) => {{ window.benchTyping = ({TYPE})(args) }}", [KEYS["B"], keys, args.key_ms, False])
            a_sent, b_sent = first.evaluate("() => window.benchTyping"), second.evaluate("() => window.benchTyping")
            typed_for = time.perf_counter() - started
            a_arrived, b_arrived = wait_for_keys(second, KEYS["A"], args.idle + keys), wait_for_keys(first, KEYS["B"], keys)
            typing = latencies(a_sent, a_arrived, args.idle) + latencies(b_sent, b_arrived, 0)
            frames_a, frames_b = (page.evaluate("() => window.benchFrames") for page in (first, second))
            idle_legs = trips(idle_typed, a_arrived, 0, KEYS["A"], frames_a, frames_b)
            typing_legs = trips(a_sent, a_arrived, args.idle, KEYS["A"], frames_a, frames_b)
            typing_legs += trips(b_sent, b_arrived, 0, KEYS["B"], frames_b, frames_a)
            expected = "y" * keys + "Start." + "x" * (args.idle + keys)
            for _ in range(600):
                if api.get(f"/api/v1/norms/{norm['id']}").json()["text"] == expected:
                    break
                time.sleep(0.1)
            else:
                raise SystemExit("the server never held both typists' text")
            after = changes_by(api, norm)
            browser.close()

    rates = {name: (after.get(who["id"], 0) - before.get(who["id"], 0)) / typed_for for name, who in (("A", ana), ("B", ben))}
    print(
        f"two Chromium editors on one norm, one server (SQLite); typing: {keys} keys each in {typed_for:.1f} s "
        f"({keys / typed_for:.1f} keys a second; asked for {1000 / args.key_ms:.0f}: a loaded machine can delay the pages' timers)"
    )
    print("| keystroke to peer | keys | p50 | p95 | max |\n|---|---|---|---|---|")
    for label, values in ((f"idle (one key after a 600 ms pause, {args.idle} times)", idle), ("both typing continuously", typing)):
        print(f"| {label} | {len(values)} | {statistics.median(values):.0f} ms | {percentile(values, 95):.0f} ms | {max(values):.0f} ms |")
    print(f"changes stored per second while typing: typist A {rates['A']:.1f}, typist B {rates['B']:.1f}")
    print("\nwhere a keystroke's time goes, p50 / p95 / mean over the slowest 5 % of keys:")
    print("| keystrokes | held in the editor | change to socket | server, network, peer's event | peer applies and shows |")
    print("|---|---|---|---|---|")
    breakdown("idle", idle_legs)
    breakdown("both typing", typing_legs)
    print("load average at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
