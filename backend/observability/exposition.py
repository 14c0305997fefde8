"""``GET /metrics`` on web processes, and the HTTP server a Celery worker exports from.

With ``PROMETHEUS_MULTIPROC_DIR`` set, every process of the machine's web (or worker) group
writes its values there, and a scrape of any one of them sums the files; without it, the
answering process's own values are exported (one uvicorn process, the embedded profile).

``/metrics`` answers a request that sends ``Authorization: Bearer <GROVE_METRICS_TOKEN>``, or
one whose peer address is in ``GROVE_METRICS_ALLOWED_NETWORKS`` (loopback by default) and that
did not come through a proxy (no ``X-Forwarded-For`` or ``Forwarded`` header: a proxy on the
same host would make every visitor look local). Anything else gets 404, as if it were not
there. The worker's server has no token: bind it to an internal address
(``GROVE_WORKER_METRICS_ADDR``).
"""

from __future__ import annotations

import glob
import hmac
import ipaddress
import os
import re

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views import View
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from backend.observability.scrape import DeploymentCollector

_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def forget_dead_processes(path: str) -> None:
    """Drop the live gauges (open sockets, pool use) of processes that are gone: a uvicorn or
    Celery process that died left its file, and its sockets would count forever."""
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        match = _LIVE_GAUGE_FILE.search(name)
        if match and not _is_running(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), path)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_metrics() -> bytes:
    """The counters, histograms and gauges of this process, or of all of them (multiprocess)."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    LiveProcessesCollector(registry, path=path)
    return generate_latest(registry)


_deployment = CollectorRegistry(auto_describe=False)
_deployment.register(DeploymentCollector())


def is_allowed(request: HttpRequest) -> bool:
    token = settings.GROVE_METRICS_TOKEN
    if token:
        sent = request.META.get("HTTP_AUTHORIZATION", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return False
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in settings.GROVE_METRICS_ALLOWED_NETWORKS)


class MetricsView(View):
    """Prometheus' text format: this deployment's process metrics and scrape-time gauges."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not is_allowed(request):
            raise Http404("not found")
        # The classic text format: every Prometheus reads it, and the names are all ASCII.
        body = process_metrics() + generate_latest(_deployment)
        return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def worker_registry() -> CollectorRegistry:
    """What a worker's exporter serves: its pool processes' metrics (multiprocess) or its own."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry()
    LiveProcessesCollector(registry, path=path)
    return registry


class LiveProcessesCollector(multiprocess.MultiProcessCollector):
    """prometheus_client's sum over the processes' files, without the live gauges of dead
    processes."""

    def collect(self):
        forget_dead_processes(self._path)
        return super().collect()
