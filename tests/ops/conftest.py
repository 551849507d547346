"""Operations: metrics, logs, rate limits, security headers (helpers in tests/fixtures/ops.py). Most of these tests are
about the HTTP layer and run on SQLite only (`ON_SQLITE`)."""

from __future__ import annotations

import pytest

from tests.fixtures.clearinghouse import LOOPBACK_SUBSCRIBERS


@pytest.fixture(autouse=True)
def cheap_unknown_account_check(monkeypatch):
    """Sign-ins for unknown emails verify against a dummy hash of production cost; these tests make many."""
    from services.accounts import security

    monkeypatch.setattr(security, "_DUMMY_HASH", security._hasher.hash("not anyone's password"))


@pytest.fixture
def settings_overrides(request) -> dict:
    """Subscribers listen on loopback; a module's `SETTINGS` dict goes on top."""
    return LOOPBACK_SUBSCRIBERS | getattr(request.module, "SETTINGS", {})
