"""The server process's garbage-collector setting: applied once the app has started, in a fresh process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from services.kit.runtime import GEN0_THRESHOLD
from tests.fixtures.app import TEST_SECRET

STARTS_THE_APP = """
import asyncio, gc, json
from services.api.app import create_app

async def main():
    app = create_app()
    before = [gc.get_threshold()[0], gc.get_freeze_count()]
    async with app.router.lifespan_context(app):
        started = [gc.get_threshold()[0], gc.get_freeze_count()]
    print(json.dumps({"before": before, "started": started}))

asyncio.run(main())
"""


def test_the_started_app_freezes_what_startup_made_and_collects_less_often(sqlite_migrated, tmp_path):
    database = shutil.copyfile(sqlite_migrated, tmp_path / "cogov.db")
    env = {
        **os.environ,
        "COGOV_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "COGOV_SECRET_KEY": TEST_SECRET,
        "COGOV_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run([sys.executable, "-c", STARTS_THE_APP], capture_output=True, text=True, env=env, timeout=120, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == [700, 0]  # Python's defaults until the app has started
    threshold, frozen = seen["started"]
    assert threshold == GEN0_THRESHOLD
    assert frozen > 10_000  # modules, mappers and routes: tens of thousands of objects
