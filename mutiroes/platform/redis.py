"""The Redis client of an application: created on first use, every command through the Redis circuit breaker.

``None`` when no ``MUTIROES_REDIS_URL`` is set (the embedded mode); nothing connects at import time. The Redis
breaker lives in each process's memory (its state cannot be shared through the thing that fails); the others share
theirs through Redis (``platform.breakers``). An open circuit raises a ``redis.ConnectionError`` subclass, so each
caller's fallback for a Redis outage applies unchanged.
"""

from __future__ import annotations

import functools
import threading

import pybreaker
import redis as redis_lib
from flask import Flask, current_app

from mutiroes.platform import circuit

_STATE = "mutiroes_redis"


class GuardedRedis(redis_lib.Redis):
    """A Redis client whose every command and pipeline goes through ``breaker``."""

    breaker: pybreaker.CircuitBreaker

    def _through_breaker(self, func, *args, **kwargs):
        try:
            return circuit.call(self.breaker, func, *args, **kwargs)
        except circuit.DependencyUnavailable as exc:
            raise circuit.RedisUnavailable("redis circuit open") from exc

    def execute_command(self, *args, **options):
        return self._through_breaker(super().execute_command, *args, **options)

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        execute = pipe.execute

        @functools.wraps(execute)
        def guarded_execute(raise_on_error=True):
            return self._through_breaker(execute, raise_on_error)

        pipe.execute = guarded_execute
        return pipe


class RedisHolder:
    """One lazily created Redis client (and Redis breaker) per application."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        settings = app.config["MUTIROES"]
        app.extensions[_STATE] = {
            "url": settings.redis_url,
            "client": None,
            "breaker": circuit.make_breaker("redis", settings),
        }

    def configured(self, app: Flask) -> bool:
        """Whether the app has a Redis at all (``MUTIROES_REDIS_URL``); nothing connects to find out."""
        return app.extensions[_STATE]["url"] is not None

    def breaker_for(self, app: Flask) -> pybreaker.CircuitBreaker:
        return app.extensions[_STATE]["breaker"]

    def client_for(self, app: Flask) -> redis_lib.Redis | None:
        state = app.extensions[_STATE]
        if state["url"] is None:
            return None
        if state["client"] is None:
            with self._lock:
                if state["client"] is None:
                    client = GuardedRedis.from_url(
                        state["url"], socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30
                    )
                    client.breaker = state["breaker"]
                    state["client"] = client
        return state["client"]

    @property
    def client(self) -> redis_lib.Redis | None:
        return self.client_for(current_app._get_current_object())

    def reset_after_fork(self, app: Flask) -> None:
        state = app.extensions.get(_STATE)
        if state is not None:
            state["client"] = None


redis = RedisHolder()


def worker_connection(url: str) -> redis_lib.Redis:
    """The connection of RQ workers and schedulers: no socket timeout, since a worker blocks on BLPOP by design."""
    return redis_lib.Redis.from_url(url, health_check_interval=30, socket_connect_timeout=5, socket_keepalive=True)
