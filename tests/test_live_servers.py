"""The live servers' start deadline (``tests/live.py``) grows with their processes and the
machine's load, so a busy shared machine does not fail a test before its server answers."""

from __future__ import annotations

import pytest

from tests.live import MAX_START_SECONDS, MIN_START_SECONDS, start_deadline_seconds


def test_one_process_on_a_quiet_machine_gets_the_minimum():
    assert start_deadline_seconds(1, load_per_cpu=0.2) == MIN_START_SECONDS


def test_more_processes_get_longer():
    assert start_deadline_seconds(4, load_per_cpu=0.2) > start_deadline_seconds(1, 0.2)


@pytest.mark.parametrize("workers", [1, 4])
def test_a_busier_machine_gets_longer_up_to_the_cap(workers):
    quiet = start_deadline_seconds(workers, load_per_cpu=1.0)
    assert start_deadline_seconds(workers, load_per_cpu=4.0) == min(MAX_START_SECONDS, 4 * quiet)
    assert start_deadline_seconds(workers, load_per_cpu=100.0) == MAX_START_SECONDS
