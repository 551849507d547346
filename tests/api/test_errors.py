"""Bad input at the HTTP boundary: every error is JSON with a detail and a stable code."""

from __future__ import annotations

import json


async def test_unknown_route_is_json_404(client):
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


async def test_malformed_json_is_422_and_stores_nothing(client):
    response = await client.post(
        "/api/v1/auth/register", content=b'{"email": "x@example.org", "password": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    audit = await client.get("/api/v1/audit")
    assert audit.json()["items"] == []


async def test_wrong_types_and_unknown_fields_are_422_naming_each_field(client):
    response = await client.post(
        "/api/v1/auth/register", json={"email": ["x"], "password": 12345678901, "display_name": {"a": 1}, "role": "admin"}
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"email", "password", "display_name", "role"} <= fields


async def test_body_over_one_mebibyte_is_413_before_it_is_stored(client):
    huge = json.dumps({"email": "big@example.org", "password": "x" * (1024 * 1024), "display_name": "Big"})
    response = await client.post("/api/v1/auth/register", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "content_too_large"

    async def stream():  # no Content-Length: the limit applies while the body streams in
        for _ in range(20):
            yield b"x" * 65536

    streamed = await client.post("/api/v1/auth/register", content=stream(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert (await client.get("/api/v1/audit")).json()["items"] == []


async def test_request_id_is_echoed_or_made(client):
    echoed = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert made.headers["x-request-id"] != "x" * 500 and len(made.headers["x-request-id"]) == 32


async def test_openapi_document_describes_the_api(client):
    spec = (await client.get("/api/openapi.json")).json()
    assert "/api/v1/auth/register" in spec["paths"]
    assert (await client.get("/api/docs")).status_code == 200


async def test_nul_characters_are_422_on_every_database(client, sign_up):
    """PostgreSQL cannot store NUL in text, so no database gets it: the answer is the same 422 everywhere."""
    participant = await sign_up()
    for params in ({"target_id": "a\x00b"}, {"action": "x\x00"}):
        response = await client.get("/api/v1/audit", params=params)
        assert response.status_code == 422, params
        assert "U+0000" in response.json()["detail"]
    name = await client.post(
        "/api/v1/auth/register", json={"email": "nul@example.org", "password": "correct horse battery", "display_name": "Nul\x00"}
    )
    assert name.status_code == 422
    assert name.json()["errors"][0]["field"] == "display_name"
    assert (await client.get("/api/v1/me", headers=participant["headers"])).status_code == 200
