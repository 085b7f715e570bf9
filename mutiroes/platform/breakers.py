"""The breakers of an application: database, Redis and SMTP, built lazily (the app boots with Redis down).

The database and SMTP breakers keep their state in Redis so every replica and worker agrees; while Redis is the
thing failing they fall back to this process's memory. The Redis breaker itself lives in memory
(``platform.redis``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import pybreaker
import redis as redis_lib
from flask import Flask, current_app

from mutiroes.platform import circuit
from mutiroes.platform.redis import redis

log = logging.getLogger(__name__)

_STATE_KEY = "mutiroes:breaker:{service}:{name}"


class SharedStorage(pybreaker.CircuitBreakerStorage):
    """Breaker state in one Redis hash shared by all processes, mirrored in memory for when Redis fails.

    pybreaker reads the state before every call and resets the failure counter after every success. Doing that in
    Redis cost two round trips per guarded call (a third of a bulk-email worker's time), so reads come from a
    snapshot of the hash refreshed at most every ``SNAPSHOT_SECONDS``, and a reset is written only when the shared
    counter is not already zero. Another process's state change is therefore seen within that snapshot age.
    """

    SNAPSHOT_SECONDS = 1.0

    def __init__(self, name: str, client: redis_lib.Redis, *, service: str) -> None:
        super().__init__(name)
        self._client = client
        self._key = _STATE_KEY.format(service=service, name=name)
        self._memory = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._snapshot: dict[str, str] | None = None
        self._snapshot_at = 0.0

    def _fields(self) -> dict[str, str] | None:
        """The shared hash (a recent snapshot), or None while Redis cannot be read."""
        now = time.monotonic()
        if now - self._snapshot_at >= self.SNAPSHOT_SECONDS:
            self._snapshot_at = now
            try:
                raw = self._client.hgetall(self._key)
                self._snapshot = {k.decode(): v.decode() for k, v in raw.items()}
            except redis_lib.RedisError:
                self._snapshot = None
        return self._snapshot

    def _read(self, field: str) -> str | None:
        fields = self._fields()
        return None if fields is None else fields.get(field)

    def _write(self, **values) -> None:
        values = {k: str(v) for k, v in values.items()}
        try:
            self._client.hset(self._key, mapping=values)
        except redis_lib.RedisError:
            log.debug("breaker %s: redis unavailable, state kept in memory only", self.name)
            return
        if self._snapshot is not None:
            self._snapshot.update(values)

    def _incr(self, field: str) -> None:
        try:
            value = int(self._client.hincrby(self._key, field, 1))
        except redis_lib.RedisError:
            return
        if self._snapshot is not None:
            self._snapshot[field] = str(value)

    @property
    def state(self) -> str:
        return self._read("state") or self._memory.state

    @state.setter
    def state(self, state: str) -> None:
        self._memory.state = state
        self._write(state=state)

    def increment_counter(self) -> None:
        self._memory.increment_counter()
        self._incr("fail_counter")

    def reset_counter(self) -> None:
        self._memory.reset_counter()
        if self._read("fail_counter") not in (None, "0"):
            self._write(fail_counter=0)

    def increment_success_counter(self) -> None:
        self._memory.increment_success_counter()
        self._incr("success_counter")

    def reset_success_counter(self) -> None:
        self._memory.reset_success_counter()
        if self._read("success_counter") not in (None, "0"):
            self._write(success_counter=0)

    @property
    def counter(self) -> int:
        raw = self._read("fail_counter")
        return int(raw) if raw is not None else self._memory.counter

    @property
    def success_counter(self) -> int:
        raw = self._read("success_counter")
        return int(raw) if raw is not None else self._memory.success_counter

    @property
    def opened_at(self) -> dt.datetime | None:
        raw = self._read("opened_at")
        if raw:
            return dt.datetime.fromtimestamp(float(raw), dt.UTC)
        return self._memory.opened_at

    @opened_at.setter
    def opened_at(self, value: dt.datetime) -> None:
        self._memory.opened_at = value
        self._write(opened_at=value.timestamp())


class Breakers:
    """The breakers of one application, created on first use."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {"redis": redis.breaker_for(app)}

    def get(self, name: str) -> pybreaker.CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is not None:
            return breaker
        with self._lock:
            if name not in self._breakers:
                settings = self._app.config["MUTIROES"]
                client = redis.client_for(self._app)
                storage = SharedStorage(name, client, service=settings.service_name) if client is not None else None
                self._breakers[name] = circuit.make_breaker(name, settings, storage)
            return self._breakers[name]

    def states(self) -> dict[str, str]:
        result = {}
        for name in circuit.DEPENDENCIES:
            try:
                result[name] = self.get(name).current_state
            except Exception:  # reporting must never fail
                result[name] = "unknown"
        return result


def breakers(app: Flask | None = None) -> Breakers:
    app = app or current_app._get_current_object()
    registry = app.extensions.get("mutiroes_breakers")
    if registry is None:
        registry = app.extensions.setdefault("mutiroes_breakers", Breakers(app))
    return registry


def guarded(name: str, func, *args, app: Flask | None = None, **kwargs):
    """Run one short call through the breaker of ``name``; an open circuit raises DependencyUnavailable."""
    return circuit.call(breakers(app).get(name), func, *args, **kwargs)
