"""Run the `cogov` command as a user would, against a test's database."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fixtures.app import TEST_SECRET


def run_cogov(
    *args: str, database_url: str, stdin: str = "", data_dir: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COGOV_DATABASE_URL": database_url,
        "COGOV_SECRET_KEY": TEST_SECRET,
        "COGOV_DATA_DIR": data_dir or os.environ.get("TMPDIR", "/tmp"),
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout
    )
