"""Every error leaves the API as JSON `{"detail": ..., "code": ...}` with the status it deserves."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.db import unreachable
from services.kit.errors import DomainError

log = structlog.get_logger()

_HEADERS_BY_STATUS = {401: {"WWW-Authenticate": "Bearer"}}
RETRY_AFTER_SECONDS = 5


def _code_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _field_path(loc: tuple) -> str:
    # ("body", "charter", "quorum") reads better as "charter.quorum"; keep "query."/"path." prefixes.
    parts = [str(part) for part in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict]:
    return [{"field": _field_path(tuple(error.get("loc", ()))), "message": error.get("msg", "invalid")} for error in exc.errors()]


# What the OpenAPI document says a 422 carries: the shape `invalid_request` below and domain errors
# (which may add fields of their own) really send, not FastAPI's default list of pydantic errors.
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"title": "Detail", "type": "string"},
        "code": {"title": "Code", "type": "string"},
        "errors": {"title": "Errors", "type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
    },
}
FIELD_ERROR_SCHEMA = {
    "title": "ValidationError",
    "type": "object",
    "required": ["field", "message"],
    "properties": {"field": {"title": "Field", "type": "string"}, "message": {"title": "Message", "type": "string"}},
}


def _document_errors(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = ERROR_SCHEMA
                schemas["ValidationError"] = FIELD_ERROR_SCHEMA
            return schema
        return app.openapi_schema

    # FastAPI's documented way to change the generated schema: replace the app's openapi method.
    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _document_errors(app)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        body = {"detail": exc.detail, "code": exc.code, **exc.extra}
        # An error may bring headers of its own (Retry-After on a 429).
        headers = {**_HEADERS_BY_STATUS.get(exc.status_code, {}), **getattr(exc, "headers", {})}
        return JSONResponse(body, status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        detail = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
        return JSONResponse({"detail": detail, "code": "validation_error", "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "code": _code_for(exc.status_code)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if unreachable(exc):  # a restarting database: nothing was done, and the same request will work again
            log.warning("database_unreachable", path=request.url.path, error=repr(exc))
            body = {"detail": "The database cannot be reached right now; try again shortly", "code": "service_unavailable"}
            return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        log.exception("unhandled_error", path=request.url.path)
        return JSONResponse({"detail": "Internal server error", "code": "internal_error"}, status_code=500)
