"""Liveness, readiness and health: what load balancers, Consul and operators ask."""

from __future__ import annotations

import os
import socket
import threading
import time

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint
from sqlalchemy import text

from mutiroes.extensions import db, redis
from mutiroes.resilience import breakers

blp = Blueprint("health", __name__, description="Estado do processo e das dependências.")

VERSION = "0.1.0"

# Consul, nginx and operators may ask for readiness many times a second; Redis is pinged at most once per this
# interval by each process, the answers in between reuse the last result.
REDIS_READINESS_TTL_SECONDS = 1.5
_redis_ping_lock = threading.Lock()
_REDIS_PING_KEY = "mutiroes_readiness_redis"  # app.extensions: (monotonic time of the last ping, its result)


class StatusSchema(ma.Schema):
    status = ma.fields.String(required=True)
    checks = ma.fields.Dict()
    version = ma.fields.String()
    replica = ma.fields.String()


def replica_id() -> str:
    return current_app.config.get("MUTIROES_REPLICA_ID") or f"{socket.gethostname()}:{os.getpid()}"


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
    from mutiroes import discovery

    address = discovery.advertise_address(settings)
    own_id = discovery.service_id(settings.service_name, address, settings.bind_port)
    try:
        client = discovery.consul_client(settings.consul_http_addr, timeout=1.0)
        checks = client.agent.checks()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the agent reads as "down"
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
    except Exception as exc:  # noqa: BLE001 - any Redis failure makes it "down"
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


def _paths(name: str) -> list[str]:
    return [f"/{name}/", f"/api/{name}/"]


def _respond(payload: dict, healthy: bool):
    return payload, 200 if healthy else 503, ({} if healthy else {"Retry-After": "5"})


for _path in _paths("liveness"):

    @blp.route(_path, methods=["GET"], endpoint=f"liveness{_path.count('/')}")
    @blp.response(200, StatusSchema)
    def liveness():
        """200 while the process runs; checks nothing else."""
        return {"status": "alive"}


for _path in _paths("readiness"):

    @blp.route(_path, methods=["GET"], endpoint=f"readiness{_path.count('/')}")
    @blp.response(200, StatusSchema)
    @blp.alt_response(503, schema=StatusSchema, description="The database is down, or the replica is draining.")
    def readiness():
        """200 when the database answers (`degraded` while Redis is down); 503 without the database or while
        draining.

        Redis is reported but does not fail readiness: every replica shares it and serves without it (reads from
        the database, jobs waiting in the outbox), so failing them all would only turn a degraded service into none.
        """
        checks = {"database": check_database(), "redis": check_redis_cached()}
        if is_draining():
            checks["draining"] = {"status": "draining"}
        healthy = checks["database"]["status"] in ("up", "disabled") and "draining" not in checks
        status = "unavailable"
        if healthy:
            status = "ready" if checks["redis"]["status"] in ("up", "disabled") else "degraded"
        return _respond({"status": status, "checks": checks}, healthy)


for _path in _paths("health"):

    @blp.route(_path, methods=["GET"], endpoint=f"health{_path.count('/')}")
    @blp.response(200, StatusSchema)
    @blp.alt_response(503, schema=StatusSchema, description="The database is down.")
    def health():
        """Each dependency's status, the version and the replica id; 503 when the database is down."""
        checks = {
            "database": check_database(),
            "redis": check_redis(),
            "consul": check_consul(),
            "breakers": breakers().states(),
        }
        healthy = checks["database"]["status"] == "up"
        payload = {
            "status": "healthy" if healthy else "unhealthy",
            "checks": checks,
            "version": VERSION,
            "replica": replica_id(),
        }
        return _respond(payload, healthy)
