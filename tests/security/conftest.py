"""The hostile-input suite: every test here is marked `security`. Most attack the HTTP and WebSocket layers, which do not
depend on the database: they run on SQLite only (`ON_SQLITE`); those whose outcome rests on the database run on both."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items):
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.security)


@pytest.fixture
async def world(client, app, sign_up, make_council, clock, worker) -> dict:
    """Every role and every kind of resource, made through the API (see tests/security/world.py)."""
    from tests.security.world import build

    return await build(client, app, sign_up, make_council, clock, worker)
