"""Clearing-house fixtures: an adopted norm through a real ballot, a worker on the test clock, staff, subscribers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.accounts import service as accounts
from services.accounts.models import Role
from services.clearinghouse import worker as clearinghouse_worker
from services.kit.db import transaction
from services.settings import Settings
from tests.clearinghouse.subscriber import Subscriber
from tests.conftest import TEST_SECRET
from tests.norms.conftest import clock, make_council  # noqa: F401  (fixtures reused from the ballot tests)

TEXT = "Platforms publish their ranking criteria."


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    # Subscribers in these tests listen on loopback, and a hanging one should not hold a test for 15 s.
    return Settings(
        database_url=database_url, secret_key=TEST_SECRET, data_dir=tmp_path / "var", allow_private_callbacks=True,
        callback_timeout_seconds=2, _env_file=None,
    )


@pytest.fixture
async def worker(app, clock):  # noqa: F811
    """The clearing-house worker of the app's runtime, on the test's clock; tests call its steps themselves."""
    made = clearinghouse_worker.for_runtime(app.state.runtime)
    yield made
    await made.aclose()


@pytest.fixture
async def staff(client, sign_up, app) -> dict:
    person = await sign_up("Clara Curator")
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(session, app.state.password_hashing, email=person["email"], role=Role.staff, password=None, display_name=None)
    return person


@pytest.fixture
async def subscriber():
    server = await Subscriber().start()
    yield server
    await server.stop()


async def adopt(client, council, clock, *, version: int = 1) -> dict:  # noqa: F811
    """Open a ballot on `version`, every elector approves, the ballot closes and adopts; the closed ballot."""
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": version, "closes_at": (clock.now() + timedelta(hours=2)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    ballot = opened.json()
    for member in council["members"]:
        voted = await client.put(f"/api/v1/ballots/{ballot['id']}/vote", json={"position": "approve"}, headers=member["headers"])
        assert voted.status_code == 200, voted.text
    closed = voted.json()
    assert closed["adopted"] is True, closed["outcome"]["missing"]
    return closed


@pytest.fixture
async def published(client, council, clock, worker) -> dict:  # noqa: F811
    """A norm adopted through a real ballot and published by the worker: {"council", "ballot", "entry"}."""
    ballot = await adopt(client, council, clock)
    assert await worker.publish_pending() == 1
    listing = await client.get("/api/v1/clearinghouse/entries")
    assert listing.status_code == 200, listing.text
    [entry] = listing.json()["items"]
    return {"council": council, "ballot": ballot, "entry": entry}


@pytest.fixture
async def council(make_council):  # noqa: F811
    return await make_council()
