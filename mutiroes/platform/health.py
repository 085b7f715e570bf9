"""What liveness, readiness and health report: the state of this process and of its dependencies."""

from __future__ import annotations

import os
import threading
import time

from flask import current_app
from sqlalchemy import text

from mutiroes.models import db
from mutiroes.platform import discovery, logs
from mutiroes.platform.breakers import breakers
from mutiroes.platform.redis import redis
from mutiroes.version import __version__

# Consul, nginx and operators may ask for readiness many times a second; Redis is pinged at most once per this
# interval by each process, the answers in between reuse the last result.
REDIS_READINESS_TTL_SECONDS = 1.5
_redis_ping_lock = threading.Lock()
_REDIS_PING_KEY = "mutiroes_readiness_redis"  # app.extensions: (monotonic time of the last ping, its result)


def is_draining() -> bool:
    """True once this replica's gunicorn master began draining (a file, so every worker process sees it)."""
    if current_app.extensions.get("mutiroes_draining", False):
        return True
    drain_file = current_app.config["MUTIROES"].drain_file
    return bool(drain_file) and os.path.exists(drain_file)


def check_consul() -> dict:
    """Whether Consul knows this replica and how its check stands (registration is the gunicorn master's job)."""
    settings = current_app.config["MUTIROES"]
    if not settings.consul_http_addr:
        return {"status": "disabled"}
    address = discovery.advertise_address(settings)
    own_id = discovery.service_id(settings.service_name, address, settings.bind_port)
    try:
        client = discovery.consul_client(settings.consul_http_addr, timeout=1.0, token=settings.consul_token)
        checks = client.agent.checks()
    except Exception as exc:  # any failure to reach the agent reads as "down"
        current_app.logger.warning("consul check failed: %s", exc)
        return {"status": "down"}
    mine = [check for check in checks.values() if check.get("ServiceID") == own_id]
    if not mine:
        return {"status": "unregistered", "service_id": own_id}
    return {"status": "registered", "service_id": own_id, "check": mine[0].get("Status")}


def check_database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"status": "up"}
    except Exception as exc:  # any failure of the driver means "down"; the reason is logged, not shown
        current_app.logger.warning("database check failed: %s", exc)
        db.session.rollback()
        return {"status": "down"}


def check_redis() -> dict:
    client = redis.client
    if client is None:
        return {"status": "disabled"}
    try:
        client.ping()
        return {"status": "up"}
    except Exception as exc:  # any Redis failure makes it "down"
        current_app.logger.warning("redis check failed: %s", exc)
        return {"status": "down"}


def check_redis_cached() -> dict:
    """check_redis, at most once per REDIS_READINESS_TTL_SECONDS in this process (one ping at a time)."""
    extensions = current_app.extensions
    cached = extensions.get(_REDIS_PING_KEY)
    if cached is not None and time.monotonic() - cached[0] < REDIS_READINESS_TTL_SECONDS:
        return cached[1]
    with _redis_ping_lock:
        cached = extensions.get(_REDIS_PING_KEY)  # another thread may have pinged while this one waited
        if cached is not None and time.monotonic() - cached[0] < REDIS_READINESS_TTL_SECONDS:
            return cached[1]
        result = check_redis()
        extensions[_REDIS_PING_KEY] = (time.monotonic(), result)
        return result


def readiness() -> tuple[dict, bool]:
    """(answer, ready): ready when the database answers and the replica is not draining.

    Redis is reported but does not fail readiness: every replica shares it and serves without it (reads from the
    database, jobs waiting in the outbox), so failing them all would only turn a degraded service into none.
    """
    checks = {"database": check_database(), "redis": check_redis_cached()}
    if is_draining():
        checks["draining"] = {"status": "draining"}
    ready = checks["database"]["status"] in ("up", "disabled") and "draining" not in checks
    status = "unavailable"
    if ready:
        status = "ready" if checks["redis"]["status"] in ("up", "disabled") else "degraded"
    return {"status": status, "checks": checks}, ready


def health() -> tuple[dict, bool]:
    """(answer, healthy): each dependency, the breakers, the version and the replica id."""
    checks = {
        "database": check_database(),
        "redis": check_redis(),
        "consul": check_consul(),
        "breakers": breakers().states(),
    }
    healthy = checks["database"]["status"] == "up"
    answer = {
        "status": "healthy" if healthy else "unhealthy",
        "checks": checks,
        "version": __version__,
        "replica": logs.replica_id(current_app.config["MUTIROES"].replica_id),
    }
    return answer, healthy
