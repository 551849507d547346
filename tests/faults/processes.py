"""The processes a fault scenario breaks: a private PostgreSQL cluster, `cogov serve` instances, `cogov worker`.

The PostgreSQL and Redis that other test runs share are never touched: a scenario that stops the
database or Redis starts its own (initdb into a temporary directory, fsync on, trust on loopback;
`redis-server` with no persistence) and kills every process it started when it ends.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg

import migrations
from tests.fixtures.app import TEST_SECRET
from tests.fixtures.environment import service_unavailable
from tests.realtime.servers import CogovServer, RedisServer, free_port

__all__ = ["CogovServer", "PrivatePostgres", "RedisServer", "Worker", "free_port", "serve"]


def _postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A PostgreSQL cluster of its own on a free port, which a scenario may stop and start at will."""

    def __init__(self) -> None:
        self.bin = _postgres_binaries()
        if self.bin is None:
            service_unavailable("PostgreSQL server binaries (initdb)")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cogov-faults-pg-"))
        self.data = self.root / "data"
        self.process: subprocess.Popen | None = None
        self._template = False  # whether the migrated template database exists
        # initdb refuses to run as root: run the server as the postgres account then.
        self._user: list[str] = []
        if os.geteuid() == 0:
            try:
                import pwd

                account = pwd.getpwnam("postgres")
            except KeyError:
                service_unavailable("a postgres account to run a private PostgreSQL as root")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._user = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def start(self) -> PrivatePostgres:
        if not self.data.exists():
            subprocess.run(
                [
                    *self._user,
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        log = open(self.root / "server.log", "ab")  # noqa: SIM115  (the server writes it until stopped)
        self.process = subprocess.Popen(
            [
                *self._user,
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=on",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        for _ in range(300):
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited {self.process.returncode}: {(self.root / 'server.log').read_text()[-2000:]}")
            try:
                connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", timeout=1)
                await connection.close()
                return self
            except (OSError, asyncpg.PostgresError, TimeoutError):
                await asyncio.sleep(0.1)
        raise RuntimeError("the private PostgreSQL did not start")

    def stop(self, mode: signal.Signals = signal.SIGINT) -> None:
        """SIGINT is PostgreSQL's fast shutdown (what `pg_ctl stop -m fast` sends): clients are cut off, commits kept."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, mode)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    async def create_database(self) -> str:
        """A new database at the latest schema; its URL. The first is migrated and kept as the template of the
        others (CREATE DATABASE … TEMPLATE copies it in a fraction of what running the migrations takes)."""
        if not self._template:
            await self._admin('CREATE DATABASE "cogov_faults_template"')
            await asyncio.to_thread(migrations.upgrade, self.url("cogov_faults_template"))
            self._template = True
        name = f"cogov_faults_{uuid.uuid4().hex[:10]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "cogov_faults_template"')
        return self.url(name)

    async def _admin(self, sql: str) -> None:
        connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def serve(database_url: str, data_dir: Path, redis_url: str | None = None, **settings: str) -> CogovServer:
    """A `cogov serve` (not started) that leaves deliveries to `cogov worker`; `settings` are COGOV_* overrides."""
    server = CogovServer(database_url, data_dir, redis_url)
    server.env["COGOV_WORKER_IN_SERVE"] = "false"
    server.env.update({f"COGOV_{key.upper()}": value for key, value in settings.items()})
    return server


class Worker:
    """`cogov worker` as a subprocess, to be killed with SIGKILL and started again."""

    def __init__(self, database_url: str, data_dir: Path, **settings: str) -> None:
        self.env = {
            **os.environ,
            "COGOV_DATABASE_URL": database_url,
            "COGOV_SECRET_KEY": TEST_SECRET,
            "COGOV_DATA_DIR": str(data_dir),
            "COGOV_ALLOW_PRIVATE_CALLBACKS": "1",
            "COGOV_LOG_LEVEL": "warning",
            **{f"COGOV_{key.upper()}": value for key, value in settings.items()},
        }
        self.log = data_dir / "worker.log"
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> Worker:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=self.env, stdout=log, stderr=log)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
