"""Every benchmark under bench/ is a command: `--help` prints its usage and exits 0 without running it,
and the hostile-frame benchmark runs end to end at a small size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = sorted(path.stem for path in (ROOT / "bench").glob("*.py") if "__main__" in path.read_text())


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("module", COMMANDS)
def test_help_prints_the_usage(module):
    done = run(f"bench.{module}", "--help")
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout.lower(), done.stdout
    assert "Traceback" not in done.stderr


def test_sync_fuzz_runs_a_small_batch_and_prints_what_the_server_did():
    done = run("bench.sync_fuzz", "40", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "40 hostile frames" in done.stdout and "wall time" in done.stdout, done.stdout
