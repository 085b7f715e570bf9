"""The Redis client of an application: created on first use, every command through the Redis circuit breaker.

``None`` when Redis is not configured (the embedded mode); nothing connects at import time. Redis is either one
server (``MUTIROES_REDIS_URL``) or a master watched by Sentinels (``MUTIROES_REDIS_SENTINELS`` +
``MUTIROES_REDIS_MASTER_NAME``): then every new connection asks the Sentinels where the master is, so a failover is
followed with no restart. The Redis breaker lives in each process's memory (its state cannot be shared through the
thing that fails); the others share theirs through Redis (``platform.breakers``). An open circuit raises a
``redis.ConnectionError`` subclass, so each caller's fallback for a Redis outage applies unchanged.
"""

from __future__ import annotations

import functools
import threading

import pybreaker
import redis as redis_lib
from flask import Flask, current_app, g, has_request_context
from redis.backoff import ConstantBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from mutiroes.config import Config
from mutiroes.platform import circuit

_STATE = "mutiroes_redis"
# what the processes that need Redis say when it is not configured
NOT_CONFIGURED = "set MUTIROES_REDIS_URL or MUTIROES_REDIS_SENTINELS"
_FAILED_IN_REQUEST = "mutiroes_redis_failed"


class GuardedRedis(redis_lib.Redis):
    """A Redis client whose every command and pipeline goes through ``breaker``.

    Within one request, Redis is given one chance: once a call has failed to reach it (a frozen master times out,
    a dead one refuses), the request's later calls (cache store, throttle, the breakers' shared state) fail at once
    instead of waiting out one socket timeout each while the breaker is still counting failures.
    """

    breaker: pybreaker.CircuitBreaker

    def through_breaker(self, func, *args, **kwargs):
        """Run ``func`` (a Redis call) as every command of this client runs: through the breaker, as a
        ``redis.ConnectionError`` when the circuit is open, at most one wait on Redis per request."""
        in_request = has_request_context()
        if in_request and g.get(_FAILED_IN_REQUEST):
            raise circuit.RedisUnavailable("redis failed earlier in this request")
        try:
            return circuit.call(self.breaker, func, *args, **kwargs)
        except circuit.DependencyUnavailable as exc:
            raise circuit.RedisUnavailable("redis circuit open") from exc
        except (redis_lib.ConnectionError, redis_lib.TimeoutError):
            if in_request:
                setattr(g, _FAILED_IN_REQUEST, True)
            raise

    def execute_command(self, *args, **options):
        return self.through_breaker(super().execute_command, *args, **options)

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        execute = pipe.execute

        @functools.wraps(execute)
        def guarded_execute(raise_on_error=True):
            return self.through_breaker(execute, raise_on_error)

        pipe.execute = guarded_execute
        return pipe


class RedisHolder:
    """One lazily created Redis client (and Redis breaker) per application."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        settings = app.config["MUTIROES"]
        app.extensions[_STATE] = {
            "settings": settings,
            "client": None,
            "breaker": circuit.make_breaker("redis", settings),
        }

    def configured(self, app: Flask) -> bool:
        """Whether the app has a Redis at all (a URL or Sentinels); nothing connects to find out."""
        return bool(app.extensions[_STATE]["settings"].uses_redis)

    def breaker_for(self, app: Flask) -> pybreaker.CircuitBreaker:
        return app.extensions[_STATE]["breaker"]

    def client_for(self, app: Flask) -> redis_lib.Redis | None:
        state = app.extensions[_STATE]
        if not state["settings"].uses_redis:
            return None
        if state["client"] is None:
            with self._lock:
                if state["client"] is None:
                    client = connect(
                        state["settings"],
                        redis_class=GuardedRedis,
                        # Redis answers in well under a millisecond: half a second means it hangs, and a request
                        # waits on a frozen master once (GuardedRedis)
                        socket_timeout=0.5,
                        socket_connect_timeout=0.5,
                        health_check_interval=30,
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


class SentinelConnection(SentinelManagedConnection):
    """A connection to the Sentinels' master that asks them again each time it reconnects.

    redis-py (8.1) reconnects a connection whose command failed inside ``send_packed_command``, to the address it
    had: a retried command then goes back to the dead master, or to the old master once it is a replica (READONLY),
    while the Sentinels already name the new one. ``connect`` is the path that asks them.
    """

    def send_packed_command(self, command, check_health=True):
        if not self._sock:
            self.connect()
        return super().send_packed_command(command, check_health)


def connect(settings: Config, *, redis_class: type[redis_lib.Redis] = redis_lib.Redis, **options) -> redis_lib.Redis:
    """A client of the configured Redis: the Sentinels' current master, or the server of MUTIROES_REDIS_URL.

    redis-py retries a failed connection three times with a backoff of up to 10 s each by default: with a Sentinel or
    a master gone, one request would sleep for half a minute. Here a failure is reported at once (the breaker and
    each caller's fallback take it from there) unless the caller asks for retries.
    """
    options.setdefault("retry", Retry(NoBackoff(), 0))
    if settings.redis_password:
        options["password"] = settings.redis_password
    if settings.redis_sentinels:
        sentinels = [(host, int(port)) for host, _, port in (s.rpartition(":") for s in settings.redis_sentinels)]
        sentinel = Sentinel(
            sentinels,
            sentinel_kwargs={
                "password": settings.redis_password,
                "socket_timeout": 1.0,
                "socket_connect_timeout": 1.0,
                "retry": Retry(NoBackoff(), 0),
            },
        )
        return sentinel.master_for(
            settings.redis_master_name, redis_class=redis_class, connection_class=SentinelConnection, **options
        )
    return redis_class.from_url(settings.redis_url, **options)


# RQ workers block on BLPOP for at most a few seconds (mutiroes.jobs.worker), so an answer that takes longer than
# this means the server hangs (a frozen master): the connection is dropped and the next one asks the Sentinels
WORKER_SOCKET_TIMEOUT = 15.0


def worker_connection(settings: Config) -> redis_lib.Redis:
    """The connection of RQ workers, schedulers and the CLI: long reads allowed, a frozen server still given up."""
    return connect(
        settings,
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_timeout=WORKER_SOCKET_TIMEOUT,
        socket_keepalive=True,
        retry=Retry(ConstantBackoff(0.5), 2),
    )
