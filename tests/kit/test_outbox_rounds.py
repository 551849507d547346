"""A round recorded as it goes (`record_each`): every outcome is recorded before its slot takes another job, and
outcomes that finish while a record is being written share the next one."""

from __future__ import annotations

import asyncio

from services.kit.outbox import run_round


async def test_each_outcome_is_recorded_before_its_slot_moves_on_and_records_are_shared():
    recorded: set[int] = set()
    batches: list[list[int]] = []
    started: list[tuple[int, frozenset[int]]] = []

    async def attempt(job: int) -> str:
        started.append((job, frozenset(recorded)))
        await asyncio.sleep(0.001 * (job % 3))
        return f"sent {job}"

    async def record(results: list[tuple[int, str]]) -> None:
        await asyncio.sleep(0.005)  # a commit takes longer than a hand-over
        batches.append([job for job, _ in results])
        recorded.update(job for job, _ in results)

    jobs = list(range(40))
    results = await run_round(jobs, attempt, record, concurrency=4, name="test", record_each=True)

    assert sorted(job for job, _ in results) == jobs and all(outcome == f"sent {job}" for job, outcome in results)
    assert sorted(job for batch in batches for job in batch) == jobs  # each recorded once
    assert len(batches) < len(jobs)  # shared commits
    # With 4 slots, at most 4 jobs are ever under way unrecorded: the 5th job starts only after one is recorded.
    for position, (_job, seen) in enumerate(started):
        assert len(seen) >= position - 3


async def test_with_one_slot_each_job_waits_for_the_record_of_the_one_before():
    recorded: list[int] = []
    seen_before: dict[int, list[int]] = {}

    async def attempt(job: int) -> str:
        seen_before[job] = list(recorded)
        return "ok"

    async def record(results: list[tuple[int, str]]) -> None:
        await asyncio.sleep(0)
        recorded.extend(job for job, _ in results)

    await run_round(list(range(6)), attempt, record, concurrency=1, name="test", record_each=True)
    assert all(seen_before[job] == list(range(job)) for job in range(6))
