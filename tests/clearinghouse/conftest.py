"""Clearing-house tests deliver to subscribers listening on loopback."""

from __future__ import annotations

import pytest

from tests.fixtures.clearinghouse import LOOPBACK_SUBSCRIBERS


@pytest.fixture
def settings_overrides() -> dict:
    return LOOPBACK_SUBSCRIBERS
