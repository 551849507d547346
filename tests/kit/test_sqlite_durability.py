"""SQLite's durability setting: every commit fsynced unless the operator knowingly chooses otherwise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from services.kit.db import create_engine
from services.settings import Settings

FULL, NORMAL = 2, 1  # PRAGMA synchronous answers


async def _synchronous(engine) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(text("PRAGMA synchronous"))).scalar_one()


async def test_commits_are_fsynced_by_default_and_normal_only_when_asked(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/cogov.db"
    default = create_engine(url, sqlite_synchronous=Settings(_env_file=None).sqlite_synchronous)
    normal = create_engine(url, sqlite_synchronous=Settings(sqlite_synchronous="NORMAL", _env_file=None).sqlite_synchronous)
    try:
        assert await _synchronous(default) == FULL
        assert await _synchronous(normal) == NORMAL
    finally:
        await default.dispose()
        await normal.dispose()


@pytest.mark.parametrize("value", ["OFF", "normal", "FULL; DROP TABLE norms", "", "EXTRA"])
def test_only_full_or_normal_is_accepted(value, tmp_path):
    with pytest.raises(ValidationError):
        Settings(sqlite_synchronous=value, _env_file=None)
    with pytest.raises(ValueError):
        create_engine(f"sqlite+aiosqlite:///{tmp_path}/cogov.db", sqlite_synchronous=value)
