"""Per-minute snapshots of the deployment, written by a beat job, read by the console's charts.

The charts never aggregate the trees or the journal over hours when a page opens: a snapshot
holds one minute's figures (see ``services.take_snapshot``), so a six-hour chart reads 360
small rows through the ``taken_at`` index.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ConsoleSnapshot(models.Model):
    """``figures``: ``{"trees": {lang: {state: n}}, "ready_work": {lang: slots},
    "volunteers_ready": {lang: n}, "tasks": {kind: n created since the previous snapshot},
    "seconds": the span "tasks" covers, "latency": {requests, p50_ms, p99_ms, ...} of the last
    minute's task requests, "rest_active": {lang: n}, "unserved": {lang: n}}`` (the last three
    None without a cache Redis or while it does not answer; absent in older snapshots)."""

    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    figures = models.JSONField()

    class Meta:
        ordering = ["taken_at"]

    def __str__(self) -> str:
        return f"console snapshot {self.taken_at:%Y-%m-%d %H:%M:%S}"
