"""Fault injection at full size: what was acknowledged, lost and duplicated, and how long convergence took.

Every scenario drives real processes on 127.0.0.1 (`cogov serve` instances, `cogov worker`, a private
PostgreSQL cluster and private Redis, never the shared ones) through tests/faults/scenarios.py, the
code the CI suite runs small:

    .venv/bin/python -m bench.faults                      # every scenario (about half an hour)
    .venv/bin/python -m bench.faults --only kill-api --only ballots
    .venv/bin/python -m bench.faults --small              # every scenario at the sizes CI runs

Scenarios: kill -9 a random API instance of 3 while 5 peers each make 1,000 edits, 20 kills;
PostgreSQL restarted 5 times during 5,000 edits; Redis stopped for 60 s during 2,000 edits across two
instances; kill -9 the delivery worker 20 times during 500 WebSub deliveries; a subscriber down for
the first 10 minutes; ballot closing raced from two instances 100 times.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.seed import without_rate_limits  # noqa: E402
from tests.faults import scenarios  # noqa: E402
from tests.faults.processes import PrivatePostgres  # noqa: E402

# Each peer types like a person, 6 characters a second, one change per character (as bench/realtime.py).
TYPING = 1 / 6

SCENARIOS = {
    "kill-api": lambda pg, work: scenarios.kill_api_instances(pg, work, instances=3, peers=5, edits=1000, kills=20, pause=TYPING),
    "restart-postgres": lambda pg, work: scenarios.restart_database(
        pg, work, peers=5, edits=1000, restarts=5, down_seconds=2.0, pause=TYPING
    ),
    "stop-redis": lambda pg, work: scenarios.stop_redis(pg, work, peers=5, edits=400, down_seconds=60.0, pause=TYPING),
    "kill-worker": lambda pg, work: scenarios.kill_worker(pg, work, subscribers=50, adoptions=10, kills=20, delay=0.1, concurrency=4),
    "subscriber-down": lambda pg, work: scenarios.subscriber_down(pg, work, subscribers=20, adoptions=5, down_seconds=600),
    "ballots": lambda pg, work: scenarios.race_ballot_closing(pg, work, ballots=100),
}
# The sizes of tests/faults/test_faults.py: a quick run that shows each scenario still works.
SMALL = {
    "kill-api": lambda pg, work: scenarios.kill_api_instances(pg, work, instances=2, peers=3, edits=60, kills=2),
    "restart-postgres": lambda pg, work: scenarios.restart_database(pg, work, peers=3, edits=60, restarts=2, down_seconds=1.0),
    "stop-redis": lambda pg, work: scenarios.stop_redis(pg, work, peers=3, edits=60, down_seconds=3.0),
    "kill-worker": lambda pg, work: scenarios.kill_worker(pg, work, subscribers=8, adoptions=3, kills=2, delay=0.2, concurrency=2),
    "subscriber-down": lambda pg, work: scenarios.subscriber_down(pg, work, subscribers=4, adoptions=2, down_seconds=2.0),
    "ballots": lambda pg, work: scenarios.race_ballot_closing(pg, work, ballots=5),
}


def table(outcomes: list[scenarios.Outcome]) -> str:
    lines = [
        "| scenario | faults | acknowledged | lost | duplicated | time to converge | checks |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        converge = f"{o.converge_seconds:.1f} s" if o.converge_seconds is not None else "—"
        checks = "; ".join([*(f"{name}: {count}" for name, count in o.violations.items()), *o.notes])
        lines.append(f"| {o.scenario} | {o.faults} | {o.acknowledged:,} | {o.lost} | {o.duplicated} | {converge} | {checks} |")
    return "\n".join(lines)


async def main(names: list[str], sizes: dict) -> None:
    # The scenarios' clients all come from one address: the servers they start run without rate limits.
    without_rate_limits()
    print(f"start: {describe()}", flush=True)
    postgres = PrivatePostgres()
    outcomes = []
    try:
        await postgres.start()
        for name in names:
            with tempfile.TemporaryDirectory(prefix=f"cogov-faults-{name}-") as work:
                started = time.monotonic()
                outcome = await sizes[name](postgres, Path(work))
                print(
                    f"{name}: {time.monotonic() - started:.0f} s, load average now {describe().rsplit('load average ', 1)[1]}", flush=True
                )
                print(table([outcome]).splitlines()[-1], flush=True)
                outcomes.append(outcome)
    finally:
        postgres.cleanup()
    print(f"end: {describe()}")
    print(table(outcomes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="run only this scenario (repeatable)")
    parser.add_argument("--small", action="store_true", help="the sizes CI runs (tests/faults), in about a minute per scenario")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.only or list(SCENARIOS), SMALL if arguments.small else SCENARIOS))
