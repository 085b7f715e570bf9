"""``/metrics`` in the Prometheus text format, one endpoint per replica.

Request counts and latencies are recorded per process; under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set (the
cluster sets it) prometheus_client's multiprocess mode adds up every worker of the replica. Breaker states, the
outbox backlog and the queue depths are read when scraped, so they are the same whichever worker answers.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

BREAKER_STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}

REQUESTS = Counter(
    "mutiroes_http_requests_total", "HTTP requests answered, by route and status.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "mutiroes_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class DependencyCollector:
    """Values read at scrape time from the breakers, the outbox table and the RQ queues."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        from mutiroes import resilience

        breakers = GaugeMetricFamily(
            "mutiroes_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", labels=["dependency"]
        )
        for name, state in resilience.breakers(self.app).states().items():
            breakers.add_metric([name], BREAKER_STATE_VALUES.get(state, -1))
        yield breakers

        backlog = _outbox_backlog()
        if backlog is not None:
            yield GaugeMetricFamily(
                "mutiroes_outbox_backlog", "Jobs committed but not yet pushed to RQ.", value=backlog
            )

        depths = GaugeMetricFamily("mutiroes_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"])
        for queue, depth in _queue_depths(self.app).items():
            depths.add_metric([queue], depth)
        yield depths


def _outbox_backlog() -> int | None:
    import sqlalchemy as sa

    from mutiroes.extensions import db
    from mutiroes.outbox import OutboxJob

    try:
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxJob).where(OutboxJob.enqueued_at.is_(None))
        )
    except Exception:  # noqa: BLE001 - a scrape during a database outage still reports the rest
        db.session.rollback()
        return None


def _queue_depths(app: Flask) -> dict[str, int]:
    from mutiroes.extensions import redis
    from mutiroes.jobs import QUEUES

    client = redis.client_for(app)
    if client is None:
        return {}
    try:
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(f"rq:queue:{queue}")
        return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))
    except Exception:  # noqa: BLE001 - Redis down: no depth to report
        return {}


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def init_app(app: Flask) -> None:
    @app.before_request
    def start_timer():
        g.mutiroes_started = time.perf_counter()

    @app.after_request
    def record(response):
        started = g.pop("mutiroes_started", None)
        if started is not None and request.path != "/metrics":
            route = _route()
            REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    def metrics():
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(registry)
        else:
            registry.register(REQUESTS)
            registry.register(LATENCY)
        registry.register(DependencyCollector(current_app._get_current_object()))
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
