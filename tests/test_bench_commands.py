"""Every benchmark under bench/ is a command: `--help` prints its usage and exits 0 without running it
(tests/test_bench_smoke.py runs each at a small size)."""

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
