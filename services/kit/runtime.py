"""How the server's Python process runs: the garbage collector's setting, applied once at startup."""

from __future__ import annotations

import gc

# Collections of the youngest generation come after this many new container objects (Python's default: 700).
GEN0_THRESHOLD = 10_000
_tuned = False


def tune_garbage_collector() -> None:
    """Freeze what startup made and collect the young generation less often; once per process.

    What is alive after startup (modules, mappers, routes, the app) lives as long as the process:
    frozen, a full collection no longer walks it, so its pauses are those of what requests made.
    A higher first threshold makes the short collections rarer. Cycles are still collected.
    """
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()  # garbage from startup is freed, not frozen
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, *gc.get_threshold()[1:])
