"""Liveness, readiness and health: what load balancers, Consul and operators ask (also under ``/api/``)."""

from __future__ import annotations

import marshmallow as ma

from mutiroes.platform import health
from mutiroes.web.parsing import Blueprint

blp = Blueprint("health", __name__, description="Estado do processo e das dependências.")


class StatusSchema(ma.Schema):
    status = ma.fields.String(required=True)
    checks = ma.fields.Dict()
    version = ma.fields.String()
    replica = ma.fields.String()


def _respond(answer: dict, ok: bool):
    return answer, 200 if ok else 503, ({} if ok else {"Retry-After": "5"})


for _prefix in ("", "/api"):

    @blp.route(f"{_prefix}/liveness/", methods=["GET"], endpoint=f"liveness{_prefix.replace('/', '_')}")
    @blp.response(200, StatusSchema)
    def liveness():
        """200 while the process runs; checks nothing else."""
        return {"status": "alive"}

    @blp.route(f"{_prefix}/readiness/", methods=["GET"], endpoint=f"readiness{_prefix.replace('/', '_')}")
    @blp.response(200, StatusSchema)
    @blp.alt_response(503, schema=StatusSchema, description="The database is down, or the replica is draining.")
    def readiness():
        """200 when the database answers (`degraded` while Redis is down); 503 without the database or while
        draining.

        Redis is reported but does not fail readiness: every replica shares it and serves without it (reads from
        the database, jobs waiting in the outbox), so failing them all would only turn a degraded service into none.
        """
        return _respond(*health.readiness())

    @blp.route(f"{_prefix}/health/", methods=["GET"], endpoint=f"health{_prefix.replace('/', '_')}")
    @blp.response(200, StatusSchema)
    @blp.alt_response(503, schema=StatusSchema, description="The database is down.")
    def health_view():
        """Each dependency's status, the version and the replica id; 503 when the database is down."""
        return _respond(*health.health())
