"""Counters with a fixed window, shared through Redis when configured, per process otherwise.

Used by login throttling (failures counted per account and client IP, see ``users.service``), by the account
emails (password resets, verification links: :func:`counters_for`) and by rate limits (:func:`take`: comments per
user). When Redis is configured but unreachable the counters fall back to this process, so a Redis outage never
blocks logins or comments.
"""

from __future__ import annotations

import logging
import threading
import time

import redis as redis_lib
from flask import Flask, current_app

from mutiroes.errors import Throttled
from mutiroes.platform.redis import redis

log = logging.getLogger(__name__)
_EXTENSION = "mutiroes_throttle_counters"


class MemoryCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, float]] = {}

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._windows.get(key)
        if entry is None or entry[1] <= now:
            self._windows.pop(key, None)
            return None
        return entry

    def hit(self, key: str, window: int) -> int:
        """Count one more; returns the count in the current window."""
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            count, expires = entry if entry else (0, now + window)
            self._windows[key] = (count + 1, expires)
            if len(self._windows) > 100_000:  # bound the memory an attacker can make us hold
                for stale in [k for k, (_, e) in self._windows.items() if e <= now]:
                    del self._windows[stale]
            return count + 1

    def get(self, key: str) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
        if entry is None:
            return 0, 0
        return entry[0], max(1, int(entry[1] - now + 0.999))

    def reset(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


class RedisCounters:
    def __init__(self, client: redis_lib.Redis, fallback: MemoryCounters) -> None:
        self.client = client
        self.fallback = fallback

    def hit(self, key: str, window: int) -> int:
        """Count one more; returns the count in the current window."""
        try:
            pipe = self.client.pipeline()
            pipe.incr(key)
            pipe.expire(key, window, nx=True)
            count, _ = pipe.execute()
            return int(count)
        except redis_lib.RedisError:
            log.warning("redis unavailable, counting %s in this process", key.rsplit(":", 1)[0])
            return self.fallback.hit(key, window)

    def get(self, key: str) -> tuple[int, int]:
        try:
            pipe = self.client.pipeline()
            pipe.get(key)
            pipe.ttl(key)
            raw, ttl = pipe.execute()
        except redis_lib.RedisError:
            return self.fallback.get(key)
        local = self.fallback.get(key)
        count = int(raw or 0)
        if local[0] > count:
            return local
        return count, max(1, int(ttl)) if count else 0

    def reset(self, key: str) -> None:
        self.fallback.reset(key)
        try:
            self.client.delete(key)
        except redis_lib.RedisError:
            log.warning("redis unavailable, could not reset %s", key)


def counters() -> MemoryCounters | RedisCounters:
    """The app's counters: in Redis when it is configured (every replica shares them), else in this process."""
    state = current_app.extensions.setdefault(_EXTENSION, {})
    memory = state.setdefault("memory", MemoryCounters())
    client = redis.client
    return RedisCounters(client, memory) if client is not None else memory


def take(key: str, *, limit: int, window: int, detail: str | None = None) -> None:
    """One use of ``key``: past ``limit`` uses in a ``window`` of seconds, 429 with Retry-After until it ends.

    Counting first and comparing after (one atomic INCR) lets no two replicas both take the last use."""
    store = counters()
    if store.hit(key, window) > limit:
        _count, retry_after = store.get(key)
        raise Throttled(retry_after or window, detail)


def counters_for(app: Flask, name: str) -> MemoryCounters | RedisCounters:
    """The counters named ``name`` of ``app``: in Redis when configured (falling back to this process's), else here."""
    memory = app.extensions.setdefault(f"mutiroes_{name}_counters", {}).setdefault("memory", MemoryCounters())
    client = redis.client_for(app)
    return RedisCounters(client, memory) if client is not None else memory
