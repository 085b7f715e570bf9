"""Extension objects, unbound: the application factory binds them with ``init_app``.

Nothing here opens a connection at import time; Redis is connected lazily on first use.
"""

from __future__ import annotations

import threading

import redis as redis_lib
from flask import Flask, current_app
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from mutiroes.errors import Api

# Stable constraint names so Alembic migrations are reproducible on PostgreSQL and SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
api = Api()
jwt = JWTManager()
cors = CORS()


class RedisHolder:
    """One lazily created Redis client per application; ``None`` when no Redis is configured."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        app.extensions["mutiroes_redis"] = {"url": app.config["MUTIROES"].redis_url, "client": None}

    def client_for(self, app: Flask) -> redis_lib.Redis | None:
        state = app.extensions["mutiroes_redis"]
        if state["url"] is None:
            return None
        if state["client"] is None:
            with self._lock:
                if state["client"] is None:
                    from mutiroes.resilience import GuardedRedis

                    client = GuardedRedis.from_url(
                        state["url"],
                        socket_timeout=1.0,
                        socket_connect_timeout=1.0,
                        health_check_interval=30,
                    )
                    client.mutiroes_app = app
                    state["client"] = client
        return state["client"]

    @property
    def client(self) -> redis_lib.Redis | None:
        return self.client_for(current_app._get_current_object())

    def reset_after_fork(self, app: Flask) -> None:
        state = app.extensions.get("mutiroes_redis")
        if state is not None:
            state["client"] = None


redis = RedisHolder()
