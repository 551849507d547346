"""What a benchmark ran on, printed with its figures so they can be compared honestly."""

from __future__ import annotations

import os
import platform
import statistics
from datetime import UTC, datetime
from importlib.metadata import version


def describe() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    memory_kib = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), 0)
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {cpu} · {os.cpu_count()} cores · {memory_kib / 2**20:.0f} GiB · "
        f"{platform.system()} {platform.release()} · Python {platform.python_version()} · automerge {version('automerge')} · "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def rss_mib() -> float:
    """Resident memory of this process (includes what the Rust binding allocates)."""
    pages = int(_read("/proc/self/statm").split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (q in 1..99, so 95 for p95) of `values`."""
    if not 1 <= q <= 99:
        raise ValueError(f"percentile takes q in 1..99 (95 for p95), not {q}")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""
