"""Several uvicorn processes: whichever one answers /metrics reports the requests of all."""

from __future__ import annotations

import urllib.request

import pytest
from django.conf import settings

from tests.faults.processes import grove_environment, start_web, stop
from tests.live import test_database_url
from tests.observability.scraping import value

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
REQUESTS = 30


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_each_web_process_exports_the_sum_of_all_of_them(tmp_path):
    metrics_dir = tmp_path / "metrics"
    env = grove_environment(
        database_url=test_database_url(),
        redis_url=settings.REDIS_URL,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    process, base_url = start_web(env, tmp_path / "web.log", workers=2)
    try:
        for _ in range(REQUESTS):
            get(f"{base_url}/health/live")
        counts = {
            value(
                get(f"{base_url}/metrics"),
                "grove_http_requests_total",
                route="health/live",
                method="GET",
                status="200",
            )
            for _ in range(8)
        }
        processes = {path.name for path in metrics_dir.glob("counter_*.db")}
    finally:
        stop(process)
    assert len(processes) == 2, processes
    assert counts == {REQUESTS}
