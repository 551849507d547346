"""Every operation of the OpenAPI schema, called with generated valid and invalid input, anonymously and
as a signed-in member: never a server error, and every answer matches the schema it documents.

Schemathesis draws the cases (seeded, a few per operation: the CI budget); half of them aim at real
resources (the network, norm, ballot … of `world`) so the calls reach past the 404s.
"""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fixtures.databases import ON_SQLITE
from tests.security.world import sign_in

pytestmark = [ON_SQLITE, pytest.mark.long]
# Thousands of calls from one address and one member: rate limits and the password-guessing throttle
# (tried in tests/ops and test_password_guessing.py) would answer most of them 429 and hide what lies behind.
SETTINGS = {"rate_limits_enabled": False, "login_failures_per_minute": 0}

# Per operation, generation mode and kind of path (random ids, real ids); each is sent anonymously and
# as a member. CI draws 3; COGOV_SCHEMATHESIS_CASES draws more for a longer hunt.
CASES = int(os.environ.get("COGOV_SCHEMATHESIS_CASES", "3"))
CHECKS = [not_a_server_error, response_schema_conformance]


def _draw(strategy, count: int) -> list:
    drawn = []

    @hypothesis_settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case):
        drawn.append(case)

    try:
        collect()
    except Unsatisfiable:  # nothing left to make invalid (say, an operation whose only input is fixed)
        pass
    return drawn


def real_path_parameters(path: str, ids: dict) -> dict | None:
    """The world's ids for the path's parameters (None when the path has none)."""
    names = [part[1:-1].split(".")[0] for part in path.split("/") if part.startswith("{")]
    if not names:
        return None
    slug = ids["slug"]
    if path.startswith("/api/v1/clearinghouse/topics"):
        slug = ids["topic_slug"]
    elif "collections" in path:
        slug = ids["collection_slug"]
    known = ids | {"slug": slug}
    return {name: known[name] for name in names if known.get(name) is not None}


def _request(case, headers: dict | None) -> dict:
    kwargs = case.as_transport_kwargs(base_url="http://test", headers=headers)
    request = {key: kwargs[key] for key in ("method", "url", "headers", "params", "cookies") if kwargs.get(key)}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    if kwargs.get("files"):
        request["files"] = kwargs["files"]
    return request


async def test_every_operation_answers_within_its_schema(client, app, world):
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 80, "the schema lost operations"
    member = world["people"]["member"]
    failures: list[str] = []
    calls = 0
    for operation in operations:
        real = real_path_parameters(operation.path, world["ids"])
        drawn = {
            mode: [
                case
                for path_parameters in ((None, real) if real else (None,))
                for case in _draw(operation.as_strategy(mode, path_parameters=path_parameters), CASES)
            ]
            for mode in GenerationMode
        }
        for caller in ("anonymous", "member"):
            headers = None if caller == "anonymous" else await sign_in(client, member)
            for mode, cases in drawn.items():
                for case in cases:
                    try:
                        response = await client.request(**_request(case, headers))
                    except httpx.InvalidURL:  # too long for the client to send (httpx caps URL components)
                        continue
                    calls += 1
                    try:
                        case.validate_response(response, checks=CHECKS)
                    except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis raises a group of failed checks
                        failures.append(
                            f"{caller} {mode.value} {case.method} {response.request.url} → {response.status_code}: {str(exc)[:600]}"
                        )
    print(f"\n{calls} calls of {len(operations)} operations, {len(failures)} failed")
    assert calls > 800
    assert not failures, f"{len(failures)} of {calls} calls failed:\n" + "\n\n".join(failures[:15])
