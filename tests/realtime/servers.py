"""`cogov serve` (and a private redis-server) as real subprocesses, for crash and multi-instance tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import httpx
import websockets

from tests.fixtures.app import TEST_SECRET
from tests.fixtures.environment import service_unavailable


async def close_of(socket: websockets.ClientConnection, timeout: float = 10) -> tuple[int | None, str]:
    """Read until the server closes the socket; its close code and reason."""
    async with asyncio.timeout(timeout):
        try:
            while True:
                await socket.recv()
        except websockets.ConnectionClosed:
            pass
    return socket.close_code, socket.close_reason


# How long a started `cogov serve` may take to answer /healthz.
STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CogovServer:
    """One `cogov serve` process on a free loopback port."""

    def __init__(self, database_url: str, data_dir: Path, redis_url: str | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "COGOV_DATABASE_URL": database_url,
            "COGOV_SECRET_KEY": TEST_SECRET,
            "COGOV_DATA_DIR": str(data_dir),
            "COGOV_REDIS_URL": redis_url or "",
            "COGOV_SYNC_CATCH_UP_SECONDS": "1",
            "COGOV_LOG_LEVEL": "warning",
        }
        self.process: subprocess.Popen | None = None
        self.log = data_dir / f"serve-{self.port}.log"

    @property
    def sync_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/sync"

    async def start(self) -> CogovServer:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
            )
        # A bound, not a measure: on a loaded 2-core machine a new `cogov serve` took over 30 s to answer.
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"cogov serve exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"cogov serve did not answer on port {self.port}")

    def kill(self) -> None:
        """kill -9: no shutdown, no flushing, exactly a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop the server as a deployment does (SIGTERM) and wait for the processes it started, so that its log
        is complete (the multiprocessing resource tracker, for one, may write to it after the server ended)."""
        if self.process is not None and self.process.poll() is None:
            started = _descendants(self.process.pid)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            deadline = time.monotonic() + 10
            while any(map(_running, started)) and time.monotonic() < deadline:
                time.sleep(0.05)


def _descendants(pid: int) -> list[int]:
    """The processes `pid` started and those they started (Linux's /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            for child in map(int, (task / "children").read_text().split()):
                found += [child, *_descendants(child)]
    return found


def _running(pid: int) -> bool:
    """Whether `pid` is a process that has not ended (a zombie has ended: only its exit status is left)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[1][0] != "Z"


class RedisServer:
    """A private redis-server on a free port, so a test can stop and restart it."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            service_unavailable("redis-server")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
