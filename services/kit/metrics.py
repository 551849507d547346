"""Prometheus series of this process, and the one-line calls that feed them.

Counters and histograms live in prometheus-client's default registry; values that are a state
(sockets open, documents resident, deliveries pending) are read when `/metrics` is scraped.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_SECONDS = Histogram(
    "cogov_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHANGES_APPLIED = Counter("cogov_norm_changes_applied_total", "Automerge changes stored into norm documents.")
BALLOTS_CLOSED = Counter("cogov_ballots_closed_total", "Ballots closed, by reason and whether they adopted.", ["reason", "adopted"])
DELIVERY_ATTEMPTS = Counter("cogov_delivery_attempts_total", "WebSub delivery attempts, by outcome.", ["outcome"])
DIFFS = Counter(
    "cogov_diffs_total", "Diff requests, by kind (words, unified) and whether the diff was computed or kept.", ["kind", "outcome"]
)
READERS_LEFT = Counter("cogov_text_readers_disconnected_total", "Readers of a norm's live text (Server-Sent Events) who went away.")
READERS_RESYNCED = Counter(
    "cogov_text_readers_resynced_total", "Times a slow reader's queue of text events overflowed and was replaced by the whole text."
)
RATE_LIMITED = Counter("cogov_rate_limited_total", "Requests refused with 429, by limit.", ["limit"])


def request_answered(route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(route, method, str(status)).observe(seconds)


def changes_applied(count: int) -> None:
    CHANGES_APPLIED.inc(count)


def ballot_closed(reason: str, adopted: bool) -> None:
    BALLOTS_CLOSED.labels(reason, "true" if adopted else "false").inc()


def deliveries_attempted(outcomes: list[bool]) -> None:
    """One delivery round: True for each attempt the subscriber acknowledged."""
    delivered = sum(outcomes)
    if delivered:
        DELIVERY_ATTEMPTS.labels("delivered").inc(delivered)
    if len(outcomes) - delivered:
        DELIVERY_ATTEMPTS.labels("not_delivered").inc(len(outcomes) - delivered)


def rate_limited(limit: str) -> None:
    RATE_LIMITED.labels(limit).inc()


def diff_requested(kind: str, outcome: str) -> None:
    DIFFS.labels(kind, outcome).inc()


def reader_left() -> None:
    READERS_LEFT.inc()


def readers_resynced(count: int) -> None:
    READERS_RESYNCED.inc(count)
