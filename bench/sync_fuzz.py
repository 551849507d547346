"""The hostile-frame test of tests/security/test_sync_fuzz.py at bench size (default 10,000 frames; CI sends 3,000).

    .venv/bin/python -m bench.sync_fuzz [FRAMES]

Runs that test under pytest with COGOV_SYNC_FUZZ_FRAMES and prints the machine, the frame count, how
many the server tolerated and its closes by code, and the wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import describe

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("frames", nargs="?", type=int, default=10_000, help="hostile frames to send (default 10,000)")
    frames = parser.parse_args().frames
    print(describe())
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/security/test_sync_fuzz.py", "-q", "-s", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=os.environ | {"COGOV_SYNC_FUZZ_FRAMES": str(frames)},
        capture_output=True,
        text=True,
    )
    summary = [line for line in done.stdout.splitlines() if "hostile frames" in line or "passed" in line or "failed" in line]
    print("\n".join(summary) or done.stdout[-3000:])
    print(f"wall time {time.perf_counter() - started:.1f} s; exit {done.returncode}")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
