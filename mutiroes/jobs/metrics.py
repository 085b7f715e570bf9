"""What the jobs add to ``/metrics``: the outbox backlog, the depth of each RQ queue and the jobs that failed for
good (RQ's failed registry, what ``flask jobs requeue-failed`` empties), read at scrape time."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from prometheus_client.core import GaugeMetricFamily

from mutiroes.jobs.outbox import OutboxJob
from mutiroes.jobs.registry import QUEUES
from mutiroes.models import db
from mutiroes.platform.redis import redis


class JobsCollector:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        backlog = outbox_backlog()
        if backlog is not None:
            yield GaugeMetricFamily(
                "mutiroes_outbox_backlog", "Jobs committed but not yet pushed to RQ.", value=backlog
            )
        depths = GaugeMetricFamily("mutiroes_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"])
        failed = GaugeMetricFamily(
            "mutiroes_failed_jobs", "Jobs in each queue's failed registry (retries exhausted).", labels=["queue"]
        )
        for queue, (depth, failures) in queue_counts(self.app).items():
            depths.add_metric([queue], depth)
            failed.add_metric([queue], failures)
        yield depths
        yield failed


def outbox_backlog() -> int | None:
    try:
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxJob).where(OutboxJob.enqueued_at.is_(None))
        )
    except Exception:  # a scrape during a database outage still reports the rest
        db.session.rollback()
        return None


def queue_counts(app: Flask) -> dict[str, tuple[int, int]]:
    """Per queue: (jobs waiting, jobs in the failed registry)."""
    client = redis.client_for(app)
    if client is None:
        return {}
    try:
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(f"rq:queue:{queue}")
            pipe.zcard(f"rq:failed:{queue}")
        counts = [int(n) for n in pipe.execute()]
    except Exception:  # Redis down: nothing to report
        return {}
    return {queue: (counts[2 * i], counts[2 * i + 1]) for i, queue in enumerate(QUEUES)}
