"""A small response cache for public event reads, invalidated by bumping a version on every write.

Keys are ``<namespace>:<version>:<digest of the request>``. Every commit that wrote a row of a table those responses
show (``PUBLIC_TABLES``) bumps the version once it has committed — whatever wrote it: a request, a job, the CLI —
so the next read builds a new key and sees the write; entries of older versions simply expire (TTL).
Redis holds the version and the entries when ``MUTIROES_REDIS_URL`` is set, so every replica agrees; otherwise a
per-process dictionary does (the embedded mode runs one process). Redis trouble never fails a request: the caller
is served uncached.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import threading
import time

import redis as redis_lib
from flask import Flask, current_app, has_app_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from mutiroes.platform.redis import redis

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 60
EVENTS = "events"
# tables whose rows appear in anonymous event lists and details
PUBLIC_TABLES = frozenset(
    {
        "events",
        "event_categories",
        "event_co_organizers",
        "event_participants",
        "event_comments",
        "event_photos",
        "event_resources",
        "resource_pledges",
        "users",
    }
)
_WROTE_PUBLIC_ROWS = "mutiroes_cache_wrote_public_rows"
MEMORY_MAX_ENTRIES = 2048


class MemoryStore:
    """Per-process TTL store with a version per namespace."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._entries: dict[str, tuple[float, bytes]] = {}

    def version(self, namespace: str) -> int:
        with self._lock:
            return self._versions.get(namespace, 0)

    def bump(self, namespace: str) -> None:
        with self._lock:
            self._versions[namespace] = self._versions.get(namespace, 0) + 1
            prefix = f"{namespace}:"
            for key in [k for k in self._entries if k.startswith(prefix)]:
                del self._entries[key]

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[key]
                return None
            return entry[1]

    def set(self, key: str, value: bytes, ttl: int) -> None:
        with self._lock:
            if len(self._entries) >= MEMORY_MAX_ENTRIES:
                now = time.monotonic()
                for stale in [k for k, (expires, _) in self._entries.items() if expires <= now]:
                    del self._entries[stale]
                if len(self._entries) >= MEMORY_MAX_ENTRIES:
                    self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (time.monotonic() + ttl, value)


def _memory() -> MemoryStore:
    store = current_app.extensions.get("mutiroes_cache")
    if store is None:
        store = current_app.extensions.setdefault("mutiroes_cache", MemoryStore())
    return store


def _version_key(namespace: str) -> str:
    return f"mutiroes:cache:{namespace}:version"


def _digest(request_key: str) -> str:
    return hashlib.sha256(request_key.encode()).hexdigest()[:32]


def _entry_key(namespace: str, version: int | str, request_key: str) -> str:
    return f"mutiroes:cache:{namespace}:{version}:{_digest(request_key)}"


# The version and the entry of that version in one round trip: a cache hit is one Redis call, not two.
_LOOKUP = """
local version = redis.call('GET', KEYS[1]) or '0'
return {version, redis.call('GET', ARGV[1] .. ':' .. version .. ':' .. ARGV[2])}
"""


def get(namespace: str, request_key: str) -> tuple[bytes | None, str | None]:
    """(cached value or None, the key to store under, or None when caching is unavailable right now)."""
    client = redis.client
    if client is None:
        store = _memory()
        key = f"{namespace}:{store.version(namespace)}:{request_key}"
        return store.get(key), key
    try:
        lookup = current_app.extensions.get("mutiroes_cache_lookup")
        if lookup is None:
            lookup = current_app.extensions.setdefault("mutiroes_cache_lookup", client.register_script(_LOOKUP))
        version, value = lookup(
            keys=[_version_key(namespace)],
            args=[f"mutiroes:cache:{namespace}", _digest(request_key)],
            client=client,  # the current client: a forked worker replaces the one the script was registered with
        )
        return value, _entry_key(namespace, version.decode(), request_key)
    except redis_lib.RedisError as exc:
        log.warning("cache unavailable (%s); serving uncached", exc)
        return None, None


def put(key: str | None, value: bytes, ttl: int = DEFAULT_TTL_SECONDS) -> None:
    if key is None:
        return
    client = redis.client
    if client is None:
        _memory().set(key, value, ttl)
        return
    try:
        client.set(key, value, ex=ttl)
    except redis_lib.RedisError as exc:
        log.warning("cache unavailable (%s); response not stored", exc)


def bump(namespace: str) -> None:
    """Invalidate every entry of ``namespace``; call it after the write commits."""
    client = redis.client
    if client is None:
        _memory().bump(namespace)
        return
    try:
        client.incr(_version_key(namespace))
    except redis_lib.RedisError as exc:
        # entries already stored then live out their TTL; while Redis is down nothing is read from it anyway
        log.warning("cache unavailable (%s); could not invalidate %s", exc, namespace)


def anonymous_get(namespace: str, ttl: int = DEFAULT_TTL_SECONDS):
    """Cache a GET view's 200 JSON answer for callers without credentials (the answer may differ for anyone else).

    Place it outermost, above ``@blp.arguments``/``@blp.response``: a hit is answered before anything is parsed
    (only a URL that was valid once is ever stored), a miss runs the whole view and stores its body. The key is the
    client-facing URL, so the absolute ``next``/``previous`` links stay right for every host.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if request.method != "GET" or "Authorization" in request.headers:
                return view(*args, **kwargs)
            body, key = get(namespace, f"{request.host_url}|{request.full_path}")
            if body is not None:
                response = current_app.response_class(body, mimetype="application/json")
                response.headers["X-Cache"] = "hit"
                return response
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code == 200 and response.mimetype == "application/json":
                put(key, response.get_data(), ttl)
                response.headers["X-Cache"] = "miss"
            return response

        return wrapper

    return decorator


# --- invalidation on commit ------------------------------------------------------------------------------------


def _note_flushed_rows(session: Session, _flush_context) -> None:
    # still the pre-flush state here: the objects this flush wrote
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        if getattr(obj, "__tablename__", None) in PUBLIC_TABLES:
            session.info[_WROTE_PUBLIC_ROWS] = True
            return


def _note_statement(state) -> None:
    # single-statement writes (conditional UPDATEs for capacity, bulk deletes) bypass the flush
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if table is not None and table.name in PUBLIC_TABLES:
            state.session.info[_WROTE_PUBLIC_ROWS] = True


def _bump_after_commit(session: Session) -> None:
    if session.info.pop(_WROTE_PUBLIC_ROWS, False) and has_app_context():
        bump(EVENTS)


def _forget_after_rollback(session: Session, _previous_transaction) -> None:
    session.info.pop(_WROTE_PUBLIC_ROWS, None)


LISTENERS = (
    ("after_flush", _note_flushed_rows),
    ("do_orm_execute", _note_statement),
    ("after_commit", _bump_after_commit),
    ("after_soft_rollback", _forget_after_rollback),
)


def init_app(_app: Flask) -> None:
    """Invalidate on every commit that wrote a public row, whichever session of the process made it."""
    for name, listener in LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
