"""Fault scenarios run against a private PostgreSQL cluster, never the one other test runs share."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.processes import PrivatePostgres


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "faults: fault injection over real processes (tests/faults; long runs in bench/faults.py)")


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL cluster of this module's own, which scenarios stop and restart; removed afterwards."""
    cluster = PrivatePostgres()
    try:
        asyncio.run(cluster.start())
        yield cluster
    finally:
        cluster.cleanup()
