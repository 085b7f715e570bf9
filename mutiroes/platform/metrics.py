"""``/metrics`` in the Prometheus text format, one endpoint per replica.

Request counts and latencies are recorded per process (by the Flask hooks below, and by ``record`` for answers made
before Flask's dispatch: the response cache's hits); under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set (the
cluster sets it) prometheus_client's multiprocess mode adds up every worker of the replica. Breaker states and what
other parts add (the jobs' outbox backlog and queue depths) are read when scraped, so they are the same whichever
worker answers.
"""

from __future__ import annotations

import functools
import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from mutiroes.platform.breakers import breakers

BREAKER_STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}

REQUESTS = Counter(
    "mutiroes_http_requests_total", "HTTP requests answered, by route and status.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "mutiroes_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RESPONSE_CACHE = Counter(
    "mutiroes_response_cache_total",
    "Anonymous reads of the cached routes: answered from the cache (hit), built by the view (miss), or served"
    " uncached because the cache was unavailable (unavailable), by route.",
    ["route", "result"],
)


class BreakerCollector:
    """The breaker states, read at scrape time, so every worker of a replica reports the same."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        states = GaugeMetricFamily(
            "mutiroes_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", labels=["dependency"]
        )
        for name, state in breakers(self.app).states().items():
            states.add_metric([name], BREAKER_STATE_VALUES.get(state, -1))
        yield states


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


@functools.cache
def _series(method: str, route: str, status: int):
    """The counter and the histogram of one method, route and status: looked up once (routes and statuses are few),
    not at each answer. prometheus_client reopens a series' file itself in a forked worker."""
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)


@functools.cache
def cache_result(route: str, result: str):
    """The response cache's counter of ``route`` and ``result`` (hit, miss, unavailable)."""
    return RESPONSE_CACHE.labels(route, result)


def record(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answer: what the after-request hook does, and the cache's hits answered before Flask."""
    requests, latency = _series(method, route, status)
    requests.inc()
    latency.observe(seconds)


def init_app(app: Flask, *, collectors=()) -> None:
    """Count and time every answer, and serve ``/metrics`` with the breaker states and ``collectors`` added."""
    scraped = [BreakerCollector(app), *collectors]

    @app.before_request
    def start_timer():
        g.mutiroes_started = time.perf_counter()

    @app.after_request
    def count_and_time(response):
        started = g.pop("mutiroes_started", None)
        if started is not None and request.path != "/metrics":
            record(request.method, _route(), response.status_code, time.perf_counter() - started)
        return response

    def metrics():
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)
        else:
            registry.register(REQUESTS)
            registry.register(LATENCY)
            registry.register(RESPONSE_CACHE)
        for collector in scraped:
            registry.register(collector)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
