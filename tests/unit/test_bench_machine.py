"""bench/machine.py: the machine's figures a benchmark's JSON carries."""

import json

from bench import machine


def test_the_pace_is_the_best_of_its_runs_in_milliseconds(monkeypatch):
    timings = iter([10.0, 10.5, 20.0, 20.2, 30.0, 30.3])  # runs of 0.5, 0.2 and 0.3 s
    monkeypatch.setattr(machine.time, "perf_counter", lambda: next(timings))
    monkeypatch.setattr(machine, "PACE_WORK", 10)
    assert machine.pace_ms(runs=3) == 200.0


def test_a_machine_is_described_with_its_pace_in_json():
    described = machine.describe(pace=123.4)
    assert described["pace_ms"] == 123.4
    assert described["nproc"] >= 1
    assert len(described["loadavg"]) == 3
    assert json.loads(json.dumps(described)) == described
    assert machine.describe()["pace_ms"] is None
