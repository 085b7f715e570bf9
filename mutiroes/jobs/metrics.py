"""What the jobs add to ``/metrics``: the outbox backlog and the depth of each RQ queue, read at scrape time."""

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
        for queue, depth in queue_depths(self.app).items():
            depths.add_metric([queue], depth)
        yield depths


def outbox_backlog() -> int | None:
    try:
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxJob).where(OutboxJob.enqueued_at.is_(None))
        )
    except Exception:  # a scrape during a database outage still reports the rest
        db.session.rollback()
        return None


def queue_depths(app: Flask) -> dict[str, int]:
    client = redis.client_for(app)
    if client is None:
        return {}
    try:
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(f"rq:queue:{queue}")
        return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))
    except Exception:  # Redis down: no depth to report
        return {}
