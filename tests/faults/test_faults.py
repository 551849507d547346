"""Faults injected into real processes lose nothing: crashed API instances, a restarted database, a stopped Redis,
a killed delivery worker, an unreachable subscriber, ballot closes raced across instances.

Small versions of bench/faults.py (which runs them at full size and prints the table in bench/RESULTS.md).
"""

from __future__ import annotations

import pytest

from tests.faults import scenarios

pytestmark = pytest.mark.faults


def assert_nothing_lost(outcome: scenarios.Outcome) -> None:
    assert outcome.acknowledged > 0, outcome
    assert (outcome.lost, outcome.violations) == (0, dict.fromkeys(outcome.violations, 0)), outcome
    assert outcome.converge_seconds is not None, outcome


async def test_kill_9_of_api_instances_loses_no_acknowledged_edit_and_replicas_converge(postgres, tmp_path):
    outcome = await scenarios.kill_api_instances(postgres, tmp_path, instances=2, peers=3, edits=60, kills=2)
    assert_nothing_lost(outcome)
    assert outcome.acknowledged == 3 * 60  # every edit, once the peers had reconnected and synced
    assert outcome.duplicated == 0


async def test_database_restarts_acknowledge_nothing_while_down_and_clients_recover_by_themselves(postgres, tmp_path):
    outcome = await scenarios.restart_database(postgres, tmp_path, peers=3, edits=60, restarts=2, down_seconds=1.0)
    assert_nothing_lost(outcome)
    assert "acknowledged while the database was down" in outcome.violations
    assert outcome.acknowledged == 3 * 60
    assert outcome.duplicated == 0


async def test_edits_made_while_redis_is_down_are_durable_and_replicas_converge_after(postgres, tmp_path):
    outcome = await scenarios.stop_redis(postgres, tmp_path, peers=3, edits=60, down_seconds=3.0)
    assert_nothing_lost(outcome)
    assert outcome.acknowledged == 3 * 60
    assert outcome.duplicated == 0


async def test_killing_the_delivery_worker_loses_no_delivery_and_repeats_only_the_same_delivery_id(postgres, tmp_path):
    outcome = await scenarios.kill_worker(postgres, tmp_path, subscribers=8, adoptions=3, kills=2, delay=0.2, concurrency=2)
    assert_nothing_lost(outcome)
    assert outcome.acknowledged == 8 * 3


async def test_a_subscriber_unreachable_for_a_while_receives_every_delivery_once_back(postgres, tmp_path):
    outcome = await scenarios.subscriber_down(postgres, tmp_path, subscribers=4, adoptions=2, down_seconds=2.0)
    assert_nothing_lost(outcome)
    assert outcome.acknowledged == 4 * 2


async def test_ballot_closing_raced_from_two_instances_adopts_exactly_once(postgres, tmp_path):
    outcome = await scenarios.race_ballot_closing(postgres, tmp_path, ballots=5)
    assert (outcome.acknowledged, outcome.lost, outcome.duplicated) == (5, 0, 0), outcome
