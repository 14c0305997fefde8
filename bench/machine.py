"""The machine a benchmark ran on, as its JSON records it, with the machine's pace.

The machines these benchmarks run on differ from session to session, and one machine's speed
moves within an hour: the same code has given 37 and 110 cycles/s at one client on two days.
``pace_ms`` times a fixed pure-Python workload (``sum(range(10**7))``, the best of three) before
a benchmark starts its servers, so that figures taken on different days can be read against
the speed of the box they came from (a figure from a box with half the pace is not a
regression of the code).
"""

from __future__ import annotations

import datetime
import os
import platform
import time

PACE_WORK = 10**7
PACE_RUNS = 3


def pace_ms(runs: int = PACE_RUNS) -> float:
    """Milliseconds of the best of ``runs`` timings of ``sum(range(PACE_WORK))``."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        sum(range(PACE_WORK))
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def describe(pace: float | None = None) -> dict:
    """The machine's figures for a benchmark's JSON: cores, platform, Python, the time, the
    load average and, when measured, the pace (``pace_ms``, lower is faster)."""
    return {
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "pace_ms": pace,
    }
