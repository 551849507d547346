"""The hostile-input suite: every test here is marked `security`; live sync fixtures come from tests/realtime."""

from __future__ import annotations

import pytest

from services.settings import Settings
from tests.clearinghouse.conftest import worker  # noqa: F401  (the clearing-house worker on the test clock)
from tests.conftest import TEST_SECRET
from tests.norms.conftest import clock, make_council, network, norm  # noqa: F401  (fixtures shared with the norm tests)
from tests.realtime.conftest import connect, live, ticket_for  # noqa: F401  (a uvicorn server in the test's loop)


@pytest.fixture
def settings(request, database_url, tmp_path) -> Settings:
    """The test settings, with a module's `SETTINGS` dict on top."""
    return Settings(database_url=database_url, secret_key=TEST_SECRET, data_dir=tmp_path / "var", _env_file=None, **getattr(request.module, "SETTINGS", {}))


# Most of these tests attack the HTTP and WebSocket layers, which do not depend on the database:
# they run on SQLite only (`ON_SQLITE`); those whose outcome rests on the database run on both.
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def pytest_collection_modifyitems(items):
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.security)


@pytest.fixture
async def world(client, app, sign_up, make_council, clock, worker) -> dict:  # noqa: F811
    """Every role and every kind of resource, made through the API (see tests/security/world.py)."""
    from tests.security.world import build

    return await build(client, app, sign_up, make_council, clock, worker)
