"""Operations: metrics, logs, rate limits, security headers. Fixtures shared with the norm, clearing-house and
live-sync tests; most of these tests are about the HTTP layer and run on SQLite only (`ON_SQLITE`)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.settings import Settings
from tests.clearinghouse.conftest import subscriber, worker  # noqa: F401  (the worker on the test clock, a real subscriber)
from tests.conftest import TEST_SECRET
from tests.norms.conftest import clock, make_council, network, norm  # noqa: F401  (networks and norms made through the API)
from tests.realtime.conftest import connect, live, ticket_for  # noqa: F401  (a uvicorn server in the test's loop)

ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def cheap_unknown_account_check(monkeypatch):
    """Sign-ins for unknown emails verify against a dummy hash of production cost; these tests make many."""
    from services.accounts import security

    monkeypatch.setattr(security, "_DUMMY_HASH", security._hasher.hash("not anyone's password"))


@pytest.fixture
def settings(request, database_url, tmp_path) -> Settings:
    """The test settings, with a module's `SETTINGS` dict on top (subscribers listen on loopback)."""
    overrides = {"allow_private_callbacks": True, "callback_timeout_seconds": 2} | getattr(request.module, "SETTINGS", {})
    return Settings(database_url=database_url, secret_key=TEST_SECRET, data_dir=tmp_path / "var", _env_file=None, **overrides)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a Prometheus text exposition, by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict[tuple[str, frozenset], float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def from_address(app, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address`, as uvicorn reports a client (or a trusted proxy's X-Forwarded-For)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://test")


async def sign_in(app, address: str, email: str, password: str) -> httpx.Response:
    async with from_address(app, address) as http:
        return await http.post("/api/v1/auth/token", data={"username": email, "password": password})


def assert_rate_limited(response: httpx.Response) -> int:
    """A 429 as the API answers it: JSON {detail, code}, and Retry-After in whole seconds; the wait."""
    assert response.status_code == 429, response.text
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 3600
    body = response.json()
    assert body["code"] == "rate_limited" and body["retry_after"] == wait and str(wait) in body["detail"]
    return wait
