"""The process that folds long texts for the search index ends with the process that started it, even when that
one is killed outright (as a crashed or SIGKILLed `cogov serve` would be), instead of living on as an orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

STARTER = """
import asyncio
from services.search import index

asyncio.run(index.start_folding())
print(*index._POOL._processes, flush=True)  # the folding process's pid
input()  # wait to be killed
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone but for its exit status, which only its (new) parent collects.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_the_folding_process_ends_when_its_starter_is_killed():
    starter = subprocess.Popen([sys.executable, "-c", STARTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        folding = int(starter.stdout.readline())
        assert _alive(folding)
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        deadline = time.monotonic() + 10
        while _alive(folding) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(folding), "the folding process outlived the process that started it"
    finally:
        starter.kill()
