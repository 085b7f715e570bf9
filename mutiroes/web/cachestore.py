"""Where the response cache (``web.cache``) keeps its versions and entries: Redis, or one process's memory.

Every replica shares the Redis store, so a bump made by one is seen by the next lookup of all: each operation is one
round trip (a Lua script). A missing version key is created with a fresh number from a counter, never reused, so an
expired key cannot make an old entry valid again; a missing counter (Redis emptied or restarted without its data)
starts again from the time in microseconds, above every number it gave before, so no copy a worker kept from
before can match a version made after.

A worker also keeps its own copy of the answers it has served (``LocalCopies``, bounded in bytes), with the
version keys and values each was built on. Its next lookup of the same answer reads the current values of those
keys (one MGET, sent straight on a connection the worker holds) instead of running the script: when they are all
unchanged the copy is served and no byte of the answer crosses the network again; when one changed the copy is
dropped and the script looks the shared entry up as before. So a hit is one round trip that reads a few short
values, and the contract holds: an answer is served only while every version it was built on is current, on every
replica.

Without Redis, ``MemoryStore`` does the same in one process (the embedded mode runs one process).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import threading
import time

import redis as redis_lib
from flask import Flask

from mutiroes.platform.redis import redis

# versions outlive every entry built on them; refreshed by each bump
VERSION_TTL_SECONDS = 3600

PREFIX = "mutiroes:cache"
CLOCK = f"{PREFIX}:clock"
ALL = f"{PREFIX}:v:all"
LISTS = f"{PREFIX}:v:lists"
COUNTS = f"{PREFIX}:v:counts"
ITEM_PREFIX = f"{PREFIX}:item:"

MEMORY_MAX_ENTRIES = 4096
# a worker's copies of answers it served (list pages are ~15 KB, details ~1 KB)
LOCAL_COPIES_MAX_BYTES = 16 * 1024 * 1024

Headers = list[tuple[str, str]]
Answer = tuple[Headers, bytes]  # an answer's headers and body, as the view made them
Versions = tuple[list[str], list[bytes]]  # the version keys an answer was built on, and their values then


def event_key(event_id: int | str) -> str:
    return f"{PREFIX}:v:event:{event_id}"


def item_key(epoch: str, event_id: int, version: str, variant: str) -> str:
    return f"{ITEM_PREFIX}{epoch}:{event_id}:{version}:{variant}"


def encode(headers: Headers, body: bytes) -> bytes:
    return json.dumps(headers, separators=(",", ":")).encode() + b"\n" + body


def decode(payload: bytes) -> Answer:
    head, body = payload.split(b"\n", 1)
    return [(name, value) for name, value in json.loads(head)], body


def version_line(versions: dict[str, str]) -> str:
    return " ".join(f"{name}={version}" for name, version in versions.items())


_TICK = """
local function tick()
  if redis.call('EXISTS', ARGV[1]) == 0 then
    local now = redis.call('TIME')
    redis.call('SET', ARGV[1], now[1] .. string.format('%06d', tonumber(now[2])))
  end
  return string.format('%d', redis.call('INCR', ARGV[1]))
end
"""
# {1, the entry, its ms to live} when the entry is valid (each version it names unchanged); else {0, the current
# versions of KEYS[2..]}.
_LOOKUP = (
    _TICK
    + """
local entry = redis.call('GET', KEYS[1])
if entry then
  local cut = string.find(entry, '\\n', 1, true)
  local valid = cut ~= nil
  if valid then
    for key, version in string.gmatch(string.sub(entry, 1, cut - 1), '([^ =]+)=([^ ]+)') do
      if redis.call('GET', key) ~= version then
        valid = false
        break
      end
    end
  end
  if valid then
    return {1, entry, redis.call('PTTL', KEYS[1])}
  end
end
local versions = {}
for i = 2, #KEYS do
  local version = redis.call('GET', KEYS[i])
  if not version then
    version = tick()
    redis.call('SET', KEYS[i], version, 'EX', ARGV[2])
  end
  versions[i - 1] = version
end
return {0, versions}
"""
)
# ALL's version, then for each event of KEYS[2..] (ids in ARGV[5..]) its version and its stored item or ''.
_ITEMS = (
    _TICK
    + """
local function version_of(key)
  local version = redis.call('GET', key)
  if not version then
    version = tick()
    redis.call('SET', key, version, 'EX', ARGV[2])
  end
  return version
end
local epoch = version_of(KEYS[1])
local found = {epoch}
for i = 2, #KEYS do
  local version = version_of(KEYS[i])
  found[#found + 1] = version
  found[#found + 1] = redis.call('GET', ARGV[3] .. epoch .. ':' .. ARGV[i + 3] .. ':' .. version .. ':' .. ARGV[4])
    or ''
end
return found
"""
)
_BUMP = (
    _TICK
    + """
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tick(), 'EX', ARGV[2])
end
return #KEYS
"""
)


class LocalCopies:
    """This process's copies of shared entries: key -> (expiry on the monotonic clock, the version keys and values
    the entry was built on, the answer), least recently served dropped first past ``max_bytes``."""

    def __init__(self, max_bytes: int = LOCAL_COPIES_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._lock = threading.Lock()
        self._copies: collections.OrderedDict[str, tuple[float, Versions, Answer, int]] = collections.OrderedDict()

    def get(self, key: str) -> tuple[Versions, Answer] | None:
        with self._lock:
            copy = self._copies.get(key)
            if copy is None:
                return None
            if copy[0] <= time.monotonic():
                self._drop(key)
                return None
            self._copies.move_to_end(key)
            return copy[1], copy[2]

    def put(self, key: str, expires: float, versions: Versions, answer: Answer) -> None:
        size = len(answer[1]) + sum(len(name) + len(value) for name, value in zip(*versions, strict=True)) + len(key)
        with self._lock:
            self._drop(key)
            if size > self.max_bytes:
                return
            while self.size + size > self.max_bytes:
                self._drop(next(iter(self._copies)))
            self._copies[key] = (expires, versions, answer, size)
            self.size += size

    def forget(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key: str) -> None:
        copy = self._copies.pop(key, None)
        if copy is not None:
            self.size -= copy[3]


def parse_versions(line: bytes) -> Versions:
    """The version keys and values of an entry's first line (``key=version key=version``)."""
    pairs = [pair.split(b"=", 1) for pair in line.split()]
    return [name.decode() for name, _value in pairs], [value for _name, value in pairs]


class _Hold:
    """One thread's held connection. Dropped with its thread (a server that makes a thread per request), it puts
    the connection back in its pool, so threads that come and go leave no connection taken."""

    __slots__ = ("connection", "pid", "pool")

    def __init__(self, connection, pool: redis_lib.ConnectionPool) -> None:
        self.connection, self.pool, self.pid = connection, pool, os.getpid()

    def give_back(self, *, close: bool) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            if close:
                connection.disconnect()
            self.pool.release(connection)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at thread exit: nothing to report to, and nothing must raise
            self.give_back(close=False)


class HeldConnection:
    """The hit path's Redis connection: one per thread, taken from the client's pool once and kept, so a hit pays
    for its one round trip and not for a pool checkout and release around it (their locks and bookkeeping were a
    tenth of a hit's Python).

    A held connection is given back, and another taken, whenever the pool would no longer hand it out: another
    pool (a forked worker's new client), another process, or, under Sentinel, a master other than the one the pool
    now names. Any error closes it: the next use reconnects. A thread that ends gives its connection back.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def values(self, pool: redis_lib.ConnectionPool, names: list[str]) -> list[bytes | None]:
        """MGET ``names`` (the caller runs this through the client's breaker). A connection found dead (Redis
        restarted, a failover) is replaced once; a timeout is not retried."""
        for attempt in (1, 2):
            connection = self._connection(pool)
            try:
                connection.send_command("MGET", *names)
                return connection.read_response()
            except redis_lib.ConnectionError:
                self._give_back(close=True)
                if attempt == 2:
                    raise
            except BaseException:
                self._give_back(close=True)
                raise
        return []  # not reached: the second attempt returns or raises

    def current(self):
        """This thread's held connection, if any."""
        hold = getattr(self._local, "hold", None)
        return hold.connection if hold is not None else None

    def _connection(self, pool: redis_lib.ConnectionPool):
        hold = getattr(self._local, "hold", None)
        # a forked child's pool still names its parent's pid until the pool is next used: the hold's own pid tells
        if hold is not None and (
            hold.pool is not pool or hold.pid != os.getpid() or not pool.owns_connection(hold.connection)
        ):
            self._give_back(close=True)
            hold = None
        if hold is None:
            hold = self._local.hold = _Hold(pool.get_connection(), pool)
        return hold.connection

    def _give_back(self, *, close: bool) -> None:
        hold = getattr(self._local, "hold", None)
        self._local.hold = None
        if hold is not None:
            hold.give_back(close=close)


class RedisStore:
    """Versions and entries in the app's Redis: each operation one round trip. Raises ``redis.RedisError``."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.copies = LocalCopies()
        self.held = HeldConnection()
        self._scripts: dict[str, object] = {}
        # bumps this process could not make (Redis unreachable after its commit): made before it reads the cache
        # again, so the writer never serves what its own write changed; see owe()
        self._owed: set[str] = set()
        self._owed_lock = threading.Lock()

    def _settle(self) -> None:
        """Make the bumps this process owes, or raise: nothing is read from the cache while one is owed."""
        if self._owed:
            self.bump([])

    def _run(self, name: str, source: str, keys: list[str], args: list) -> object:
        client = redis.client_for(self.app)
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts.setdefault(name, client.register_script(source))
        # the current client: a forked worker replaces the one the script was registered with
        return script(keys=keys, args=args, client=client)

    def lookup(self, key: str, dependencies: list[str]) -> tuple[Answer | None, dict[str, str]]:
        self._settle()
        copy = self.copies.get(key)
        if copy is not None:
            (names, values), answer = copy
            client = redis.client_for(self.app)
            if client.through_breaker(self.held.values, client.connection_pool, names) == values:
                return answer, {}
            self.copies.forget(key)
        found = self._run("lookup", _LOOKUP, [key, *dependencies], [CLOCK, VERSION_TTL_SECONDS])
        if found[0] == 1:
            line, payload = found[1].split(b"\n", 1)
            answer = decode(payload)
            self.copies.put(key, time.monotonic() + found[2] / 1000, parse_versions(line), answer)
            return answer, {}
        return None, {name: version.decode() for name, version in zip(dependencies, found[1], strict=True)}

    def put(self, key: str, versions: dict[str, str], payload: bytes, ttl: int) -> None:
        self._settle()
        line = version_line(versions).encode()
        redis.client_for(self.app).set(key, line + b"\n" + payload, ex=ttl)
        self.copies.put(key, time.monotonic() + ttl, parse_versions(line), decode(payload))

    def items(self, event_ids: list[int], variant: str) -> tuple[str, dict[int, tuple[str, bytes | None]]]:
        self._settle()
        found = self._run(
            "items",
            _ITEMS,
            [ALL, *(event_key(event_id) for event_id in event_ids)],
            [CLOCK, VERSION_TTL_SECONDS, ITEM_PREFIX, variant, *event_ids],
        )
        epoch = found[0].decode()
        pairs = zip(event_ids, found[1::2], found[2::2], strict=True)
        return epoch, {event_id: (version.decode(), item or None) for event_id, version, item in pairs}

    def put_items(self, epoch: str, items: dict[int, tuple[str, bytes]], variant: str, ttl: int) -> None:
        pipeline = redis.client_for(self.app).pipeline(transaction=False)
        for event_id, (version, item) in items.items():
            pipeline.set(item_key(epoch, event_id, version, variant), item, ex=ttl)
        pipeline.execute()

    def bump(self, keys: list[str]) -> None:
        """Bump ``keys`` and whatever this process owes, in one round trip; on failure they are all owed."""
        with self._owed_lock:
            owed = set(self._owed)
        every = sorted(owed.union(keys))
        if not every:
            return
        try:
            self._run("bump", _BUMP, every, [CLOCK, VERSION_TTL_SECONDS])
        except redis_lib.RedisError:
            self.owe(keys)
            raise
        with self._owed_lock:
            self._owed.difference_update(owed)

    def owe(self, keys: list[str]) -> None:
        """Remember bumps that failed. Other workers and replicas may serve the answers they invalidate until this
        process next touches the cache (its next lookup, store or bump) once Redis answers again."""
        with self._owed_lock:
            self._owed.update(keys)


class MemoryStore:
    """The same, in one process's memory (the embedded mode, and apps without Redis)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clock = itertools.count(1)
        self._versions: dict[str, str] = {}
        self._entries: dict[str, tuple[float, dict[str, str], bytes]] = {}

    def _version(self, key: str) -> str:
        version = self._versions.get(key)
        if version is None:
            version = self._versions[key] = str(next(self._clock))
        return version

    def _get(self, key: str) -> tuple[dict[str, str], bytes] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1], entry[2]

    def _set(self, key: str, versions: dict[str, str], value: bytes, ttl: int) -> None:
        if len(self._entries) >= MEMORY_MAX_ENTRIES:
            now = time.monotonic()
            for stale in [k for k, (expires, _v, _value) in self._entries.items() if expires <= now]:
                del self._entries[stale]
            if len(self._entries) >= MEMORY_MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (time.monotonic() + ttl, versions, value)

    def lookup(self, key: str, dependencies: list[str]) -> tuple[Answer | None, dict[str, str]]:
        with self._lock:
            entry = self._get(key)
            if entry is not None and all(self._versions.get(k) == v for k, v in entry[0].items()):
                return decode(entry[1]), {}
            return None, {name: self._version(name) for name in dependencies}

    def put(self, key: str, versions: dict[str, str], payload: bytes, ttl: int) -> None:
        with self._lock:
            self._set(key, dict(versions), payload, ttl)

    def items(self, event_ids: list[int], variant: str) -> tuple[str, dict[int, tuple[str, bytes | None]]]:
        with self._lock:
            epoch = self._version(ALL)
            found = {}
            for event_id in event_ids:
                version = self._version(event_key(event_id))
                entry = self._get(item_key(epoch, event_id, version, variant))
                found[event_id] = (version, entry[1] if entry else None)
            return epoch, found

    def put_items(self, epoch: str, items: dict[int, tuple[str, bytes]], variant: str, ttl: int) -> None:
        with self._lock:
            for event_id, (version, item) in items.items():
                self._set(item_key(epoch, event_id, version, variant), {}, item, ttl)

    def bump(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._versions[key] = str(next(self._clock))


def store_of(app: Flask) -> RedisStore | MemoryStore:
    if redis.configured(app):
        return app.extensions["mutiroes_cache_redis"]
    store = app.extensions.get("mutiroes_cache")
    if store is None:
        store = app.extensions.setdefault("mutiroes_cache", MemoryStore())
    return store
