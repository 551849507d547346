"""The `cogov` command explains itself."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["db", "upgrade"],
        ["create-staff"],
        ["create-admin"],
        ["audit", "verify"],
        ["export"],
        ["import"],
        ["search", "reindex"],
    ],
)
def test_every_command_has_help(command):
    result = subprocess.run([sys.executable, "-m", "services.cli", *command, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_db_upgrade_creates_a_ready_sqlite_database(tmp_path):
    from tests.cli import run_cogov

    url = f"sqlite+aiosqlite:///{tmp_path}/fresh/cogov.db"
    result = run_cogov("db", "upgrade", database_url=url, data_dir=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fresh" / "cogov.db").exists()
    again = run_cogov("db", "upgrade", database_url=url, data_dir=str(tmp_path))
    assert again.returncode == 0, again.stderr
