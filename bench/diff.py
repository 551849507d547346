"""Diffs of two versions against a real server: how long they take, and how long /healthz waits meanwhile.

    python -m bench.diff [--sizes 1000,10000,100000,1000000] [--polls-ms 10]

Starts `cogov serve` (SQLite), and for each size makes a norm of that many characters, tagged v1;
v2 is v1 with a realistic edit pattern (a word replaced, inserted or deleted every ~1,000
characters) and v3 an entirely different text of the same size (the worst case). For each pair it
times the word diff and the unified diff, first asked (computed) and asked again (kept), while a
second client asks `/healthz` every `--polls-ms` milliseconds: the delay it saw is printed as p50
and max over the diffs of that size. Seeding a 1,000,000-character norm takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time

import httpx

from bench.anchors import person
from bench.machine import describe
from bench.seed import serving
from norms import document

SECRET = "bench-diff-" + "x" * 40
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "one",
    "all",
    "we",
    "their",
    "been",
    "has",
    "more",
    "if",
    "will",
    "would",
    "who",
    "so",
    "no",
]


def text(size: int, rng: random.Random) -> str:
    """Paragraphs of words drawn from a vocabulary, cut to `size` characters."""
    vocabulary = WORDS + ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 11))) for _ in range(5000)]
    out, length = [], 0
    while length < size:
        paragraph = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(30, 150))) + ".\n\n"
        out.append(paragraph)
        length += len(paragraph)
    return "".join(out)[:size]


def realistic_edits(old: str, rng: random.Random) -> list[dict]:
    """A word replaced, inserted or deleted every ~1,000 characters; splices from the end, so indexes hold."""
    splices = []
    for index in sorted(rng.sample(range(len(old)), max(1, len(old) // 1000)), reverse=True):
        start = old.rfind(" ", 0, index) + 1
        end = old.find(" ", index)
        end = len(old) if end == -1 else end
        kind = rng.random()
        if kind < 0.4:
            splices.append({"index": start, "delete": end - start, "insert": "amended"})
        elif kind < 0.7:
            splices.append({"index": start, "delete": 0, "insert": "newly "})
        else:
            splices.append({"index": start, "delete": min(end + 1, len(old)) - start, "insert": ""})
    return splices


def seed(api: httpx.Client, size: int) -> str:
    rng = random.Random(size)
    convener, member = person(api, "Convener", "civil_society"), person(api, "Member", "private_sector")
    body = {"name": f"Bench network {size}", "issue": "An issue.", "aims": "Aims.", "intended_outcome": "A norm."}
    slug = api.post("/api/v1/networks", json=body, headers=convener["headers"]).json()["slug"]
    assert api.post(f"/api/v1/networks/{slug}/join", headers=member["headers"]).status_code == 201
    v1 = text(size - size // 50, rng)  # room for what the edits insert
    norm = api.post(f"/api/v1/networks/{slug}/norms", json={"title": "Bench norm", "text": v1}, headers=convener["headers"], timeout=900)
    assert norm.status_code == 201, norm.text
    norm_id = norm.json()["id"]

    def edit(splices: list) -> httpx.Response:
        return api.post(f"/api/v1/norms/{norm_id}/edits", json={"splices": splices}, headers=convener["headers"], timeout=900)

    def tag(label: str) -> httpx.Response:
        return api.post(f"/api/v1/norms/{norm_id}/versions", json={"label": label}, headers=convener["headers"])

    assert tag("v1").status_code == 201
    assert (edited := edit(realistic_edits(v1, rng))).status_code == 200, edited.text
    assert tag("v2").status_code == 201
    # The whole text replaced, made here and sent as one Automerge change. The new text goes in before
    # the old is deleted: rc1 inserts behind a million deleted characters one by one, very slowly.
    doc = document.load(api.get(f"/api/v1/norms/{norm_id}/automerge").content)
    other = text(size, random.Random(-size))
    made = document.apply_splices(doc, os.urandom(16), [(0, 0, other), (len(other), len(document.read_text(doc)), "")])
    uploaded = api.post(
        f"/api/v1/norms/{norm_id}/automerge",
        content=b"".join(made),
        headers=convener["headers"] | {"Content-Type": "application/octet-stream"},
        timeout=900,
    )
    assert uploaded.status_code == 200, uploaded.text
    assert api.get(f"/api/v1/norms/{norm_id}").json()["text"] == other
    assert tag("v3").status_code == 201
    return norm_id


class HealthPoller:
    """Asks /healthz every `interval` seconds on its own thread and connection, and at once when a measured ask
    begins, so even a diff shorter than the interval is overlapped by at least one; keeps the delays of the asks
    sent while recording."""

    def __init__(self, base: str, interval: float) -> None:
        self.base, self.interval, self.recording, self.delays = base, interval, False, []
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while not self._stop.is_set():
                counted, started = self.recording, time.perf_counter()
                assert http.get("/healthz").status_code == 200
                if counted:
                    self.delays.append(time.perf_counter() - started)
                self._wake.wait(self.interval)
                self._wake.clear()

    def begin(self) -> None:
        self.delays, self.recording = [], True
        self._wake.set()

    def end(self) -> list[float]:
        """Stop recording once at least one ask sent during the window has come back; its delays."""
        deadline = time.monotonic() + 30
        while not self.delays and time.monotonic() < deadline:
            time.sleep(0.001)
        self.recording = False
        return list(self.delays)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()


def measure(api: httpx.Client, poller: HealthPoller, norm_id: str, size: int) -> list[str]:
    rows, delays = [], []
    for pattern, (old, new) in (("realistic edits", ("1", "2")), ("entirely different", ("2", "3"))):
        for form in ("words", "unified"):
            times = []
            for _ in ("computed", "kept"):
                poller.begin()
                started = time.perf_counter()
                response = api.get(f"/api/v1/norms/{norm_id}/diff", params={"from": old, "to": new, "format": form}, timeout=300)
                times.append(time.perf_counter() - started)
                delays += poller.end()
                assert response.status_code == 200, response.text
            changed = len(response.json()["segments"]) if form == "words" else response.text.count("\n@@ ")
            unit = "segments" if form == "words" else "hunks"
            rows.append(f"| {size:,} | {pattern} | {form} | {times[0] * 1000:,.0f} ms | {times[1] * 1000:,.0f} ms | {changed:,} {unit} |")
    health = (f"{statistics.median(delays) * 1000:.1f} ms", f"{max(delays) * 1000:.1f} ms", len(delays)) if delays else ("—", "—", 0)
    rows.append(f"| {size:,} | /healthz while these ran ({health[2]} asks) | p50 {health[0]} | max {health[1]} | | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--polls-ms", type=float, default=10)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(describe())
    with (
        tempfile.TemporaryDirectory() as tmp,
        serving(
            tmp,
            SECRET,
            COGOV_RATE_LIMITS_ENABLED="false",
            # Seeding replaces a whole 1,000,000-character text in one edit.
            COGOV_MAX_BODY_BYTES=str(16 * 1024 * 1024),
            COGOV_SUBMISSION_MAX_OPS=str(4_000_000),
            COGOV_SUBMISSION_MAX_BYTES=str(64 * 1024 * 1024),
            COGOV_SQLITE_SYNCHRONOUS="NORMAL",
        ) as api,
    ):
        rows = []
        for size in sizes:
            started = time.perf_counter()
            norm_id = seed(api, size)
            print(f"seeding {size:,} characters took {time.perf_counter() - started:.0f} s", file=sys.stderr)
            poller = HealthPoller(str(api.base_url).rstrip("/"), args.polls_ms / 1000)
            try:
                rows += measure(api, poller, norm_id, size)
            finally:
                poller.stop()
    print(f"COGOV_DIFF_SECONDS default ({os.environ.get('COGOV_DIFF_SECONDS', '0.5')}); one server, SQLite; times are the client's")
    print("| characters | versions | diff | first asked (computed) | asked again (kept) | answer |\n|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
