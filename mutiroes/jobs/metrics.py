"""What the jobs add to ``/metrics``: the outbox backlog, the depth of each RQ queue and the jobs that failed for
good (RQ's failed registry, what ``flask jobs requeue-failed`` empties), read at scrape time."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Flask
from prometheus_client.core import GaugeMetricFamily

from mutiroes.jobs.outbox import OutboxJob
from mutiroes.jobs.registry import QUEUES
from mutiroes.models import db
from mutiroes.platform.redis import redis
from mutiroes.timeutil import utcnow


class JobsCollector:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        backlog = outbox_backlog(self.app)
        if backlog is not None:
            yield GaugeMetricFamily(
                "mutiroes_outbox_backlog",
                "Jobs committed longer ago than the relay's grace period and two of its rounds that no relay has "
                "yet found in RQ (0 when all is well).",
                value=backlog,
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


def outbox_backlog(app: Flask) -> int | None:
    # a row is marked by the first relay round after its grace period: younger unmarked rows are the normal flow
    settings = app.config["MUTIROES"]
    due = utcnow() - dt.timedelta(
        seconds=settings.outbox_relay_grace_seconds + 2 * settings.outbox_relay_interval_seconds
    )
    try:
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxJob)
            .where(OutboxJob.enqueued_at.is_(None), OutboxJob.created_at <= due)
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
