"""The suite's fixtures live in tests/fixtures/, one module per domain, loaded here for every test.

Every database test runs once on SQLite and once on PostgreSQL (tests/fixtures/databases.py).
"""

from __future__ import annotations

import os

import pytest

# Helpers in tests/fixtures/ assert like tests do, with pytest's messages.
pytest.register_assert_rewrite("tests.fixtures")

# Tests not about rate limits must not trip them (tests/ops sets its own); `cogov serve` subprocesses inherit these.
os.environ.setdefault("COGOV_RATE_LIMIT_AUTH", "100000/minute")
os.environ.setdefault("COGOV_RATE_LIMIT_WRITES", "100000/minute")

# Tests that take tens of seconds each (real processes, whole benchmarks, thousands of generated cases).
LONG_RUNNING = ("faults", "bench", "long")


# Last of every plugin's reordering (pytest groups tests by session-scoped parameters, and its grouping
# moved tests after the browser ones); the sort is stable, so everything else keeps its order.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list) -> None:
    """The long-running tests first and the browser tests last.

    Long ones first, so that pytest-xdist's workers, which take tests in this order, end together instead of one
    finishing a long test alone at the end. Browser tests last: Playwright's sync API keeps an event loop running
    in the main thread for the rest of the session, and async tests after it could not start theirs.
    """

    def place(item) -> tuple[bool, bool]:
        browser = item.get_closest_marker("browser") is not None
        return browser, not any(item.get_closest_marker(name) for name in LONG_RUNNING)

    items.sort(key=place)


pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.app",
    "tests.fixtures.accounts",
    "tests.fixtures.networks",
    "tests.fixtures.norms",
    "tests.fixtures.clearinghouse",
    "tests.fixtures.mail",
    "tests.fixtures.realtime",
    "tests.fixtures.web",
]
