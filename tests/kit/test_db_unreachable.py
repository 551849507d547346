"""`unreachable` tells a database that cannot be reached (answer 503, reconnect) from a request that is wrong (500, 4xx)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services.kit.db import create_engine, unreachable
from tests.realtime.servers import free_port


async def _error_of(url: str, *statements: str) -> BaseException:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    except Exception as exc:  # the error under test, whatever its type
        return exc
    finally:
        await engine.dispose()
    raise AssertionError(f"{statements!r} on {url} did not fail")


async def test_a_postgresql_server_that_does_not_answer_is_unreachable():
    error = await _error_of(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postgres", "SELECT 1")
    assert unreachable(error), repr(error)


@pytest.mark.parametrize(
    "statements",
    [
        ["SELECT * FROM no_such_table"],
        ["SELEC 1"],
        ["CREATE TEMPORARY TABLE probe (a INTEGER UNIQUE)", "INSERT INTO probe VALUES (1)", "INSERT INTO probe VALUES (1)"],
    ],
    ids=["missing table", "syntax error", "unique violation"],
)
async def test_a_wrong_statement_is_not_an_unreachable_database(database_url, statements):
    error = await _error_of(database_url, *statements)
    assert isinstance(error, SQLAlchemyError)
    assert not unreachable(error), repr(error)


def test_errors_that_are_not_the_database_are_not_unreachable():
    assert not unreachable(ValueError("bad input"))
    assert not unreachable(KeyError("missing"))
