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
