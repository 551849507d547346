from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from migrations import head_revisions

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and its schema is at the latest migration (503 otherwise)."""
    try:
        async with request.app.state.engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            current = {row[0] for row in rows}
    except Exception as exc:  # any failure to reach or read the database means "not ready"
        return JSONResponse({"status": "unavailable", "detail": f"database unreachable: {type(exc).__name__}"}, status_code=503)
    heads = head_revisions()
    if current != heads:
        return JSONResponse(
            {
                "status": "unavailable",
                "detail": "database schema is not at the latest migration; run `cogov db upgrade`",
                "current": sorted(current),
                "head": sorted(heads),
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "schema": sorted(current)})
