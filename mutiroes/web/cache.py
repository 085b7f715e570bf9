"""The response cache of anonymous event reads, invalidated at the grain of what a write changed.

Versions. A write bumps, once its transaction has committed (whatever made it: a request, a job, the CLI), the
versions of what it changed:

- ``event:<id>`` for each event whose answers show a row it wrote (the event, its participations, comments,
  photos, resources, report, co-organizers; a comment or photo hidden or shown again by moderation is such a row);
- ``lists`` when it may change which events a list shows or their order (an event created, deleted, or changed in
  a column the list filters or orders by: ``discovery.LISTED_BY``);
- ``counts`` when it changes a confirmed count (the participants_count orderings: a join moves an event there);
- ``all`` when its events cannot be told (a category, the public fields of a user, a statement over many events).

Entries. Every cached thing records the versions it was built from, read *before* its rows were, and is valid only
while all of them are unchanged, so a write is seen by the next read on every replica, and a write to one event
leaves every other event's answers cached:

- an event's detail answer depends on ``all`` and its ``event:<id>``;
- a list page's answer on ``all``, ``lists`` (and ``counts`` when ordered by participants) and the ``event:<id>`` of
  each event it shows;
- a list item (one event as lists render it) is stored under ``all`` and its event's version, so a page missing
  from the cache is rebuilt from one id query and one multi-get of its items: only changed events are rendered.

Answers are looked up and stored by ``web.fastpath`` (before Flask's dispatch), list items by ``web.listing``. Time
passes too (``is_active``, ``is_registration_open``): nothing is older than 60 s (items 30 s, pages 30 s).

The stores (``web.cachestore``): Redis when ``MUTIROES_REDIS_URL`` or Sentinels are set, so every replica agrees
(a lookup is one round trip, and so is a bump; each worker keeps copies of the answers it served, so a hit reads
versions rather than the answer), else one process's memory (the embedded mode runs one process). Redis trouble
never fails a request: the caller is served uncached.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable

import redis as redis_lib
from flask import Flask, current_app, has_app_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from sqlalchemy.sql import elements, operators

from mutiroes.events.discovery import LISTED_BY
from mutiroes.jobs import outbox
from mutiroes.models import db
from mutiroes.platform.redis import redis
from mutiroes.web.cachestore import (
    ALL,
    COUNTS,
    LISTS,
    PREFIX,
    Answer,
    RedisStore,
    encode,
    event_key,
    store_of,
)

log = logging.getLogger(__name__)

DETAIL_TTL_SECONDS = 60
PAGE_TTL_SECONDS = 30
ITEM_TTL_SECONDS = 30  # a page (30 s) of items (30 s): no byte of an answer is older than 60 s

# what the event answers show: the tables, and the column that names the event a row belongs to
EVENT_ROWS = {
    "events": "id",
    "event_participants": "event_id",
    "event_comments": "event_id",
    "event_photos": "event_id",
    "event_resources": "event_id",
    "event_reports": "event_id",
    "event_co_organizers": "event_id",
}
# rows many events' answers show: writing them invalidates everything (a category; a user's public fields)
CATEGORIES = "event_categories"
USERS = "users"
USER_PUBLIC_COLUMNS = frozenset({"username", "first_name", "last_name", "avatar"})
CONFIRMED_COUNT = "confirmed_count"

SLOT = "mutiroes.cache.slot"  # the WSGI environ key of a miss's Slot
_NOTES = "mutiroes_cache_notes"


def entry_key(request_key: str) -> str:
    return f"{PREFIX}:answer:{digest(request_key)}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclasses.dataclass
class Slot:
    """A miss being built: where its answer goes, the versions it is built on so far, and whether it may be kept
    (not when part of it could not be read from the cache)."""

    key: str
    versions: dict[str, str]
    ttl: int
    storable: bool = True


# --- answers and items -----------------------------------------------------------------------------------------


def lookup(app: Flask, key: str, dependencies: list[str]) -> tuple[Answer | None, dict[str, str]] | None:
    """(the stored answer or None, the current versions of ``dependencies`` on a miss); None when unavailable."""
    try:
        return store_of(app).lookup(key, dependencies)
    except redis_lib.RedisError as exc:
        log.warning("cache unavailable (%s); serving uncached", exc)
        return None


def keep(app: Flask, slot: Slot, headers: list[tuple[str, str]], body: bytes) -> None:
    """Store a miss's answer under the versions it was built on."""
    try:
        store_of(app).put(slot.key, slot.versions, encode(headers, body), slot.ttl)
    except redis_lib.RedisError as exc:
        log.warning("cache unavailable (%s); answer not stored", exc)


def event_items(event_ids: list[int], render: Callable[[list[int]], dict[int, bytes]]) -> dict[int, bytes]:
    """Each event as lists render it, by id in the order given: the stored items, and ``render`` for the others
    (stored then); an event deleted meanwhile is left out.

    The versions read here join the answer's when a page is being cached (its Slot), so the page stays valid
    exactly as long as every item on it.
    """
    slot = request.environ.get(SLOT)
    variant = digest(request.host_url)  # items hold absolute URLs (covers)
    store = store_of(current_app)
    try:
        epoch, found = store.items(event_ids, variant)
    except redis_lib.RedisError as exc:
        log.warning("cache unavailable (%s); rendering every item", exc)
        if slot is not None:
            slot.storable = False
        rendered = render(event_ids)
        return {event_id: rendered[event_id] for event_id in event_ids if event_id in rendered}
    rendered = render([event_id for event_id, (_version, item) in found.items() if item is None])
    if rendered:
        try:
            store.put_items(epoch, {i: (found[i][0], item) for i, item in rendered.items()}, variant, ITEM_TTL_SECONDS)
        except redis_lib.RedisError as exc:
            log.warning("cache unavailable (%s); items not stored", exc)
    items = {}
    for event_id in event_ids:
        item = found[event_id][1] or rendered.get(event_id)
        if item is None:  # deleted since the page's ids were read: this page must not be kept
            if slot is not None:
                slot.storable = False
            continue
        items[event_id] = item
    if slot is not None:
        slot.versions.update({event_key(event_id): version for event_id, (version, _item) in found.items()})
    return items


def bump(app: Flask, keys: Iterable[str]) -> None:
    """Invalidate what depends on ``keys``; called once the write committed."""
    keys = sorted(set(keys))
    if not keys:
        return
    try:
        store_of(app).bump(keys)
    except redis_lib.RedisError as exc:
        # owed by the store: made before this process reads the cache again (cachestore.RedisStore.owe)
        log.warning("cache unavailable (%s); invalidating %s once Redis answers", exc, ", ".join(keys))


def invalidate_all(app: Flask) -> None:
    """Make every stored answer and every worker's copy invalid (a new Redis master). Raises ``redis.RedisError``:
    the relay that calls it tries again next round, rather than leaving the bump owed by a process that may never
    read the cache."""
    store_of(app).bump([ALL])


# --- what a transaction wrote ----------------------------------------------------------------------------------


class Notes:
    """The versions a transaction's writes will bump once it commits."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def events(self, event_ids: Iterable[int]) -> None:
        self.keys.update(event_key(event_id) for event_id in event_ids)

    def everything(self) -> None:
        self.keys.add(ALL)


def _notes(session: Session) -> Notes:
    notes = session.info.get(_NOTES)
    if notes is None:
        notes = session.info[_NOTES] = Notes()
    return notes


def _changed_columns(obj) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def _public_profile_changed(session: Session, user) -> bool:
    if user in session.new:
        return False  # nobody's answers show a new user yet
    return user in session.deleted or bool(_changed_columns(user) & USER_PUBLIC_COLUMNS)


def _note_flushed_rows(session: Session, _flush_context) -> None:
    # still the pre-flush state here: the objects this flush wrote, and their attribute history
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in EVENT_ROWS:
            notes = _notes(session)
            notes.events([getattr(obj, EVENT_ROWS[table])])
            if table == "events":
                changed = None if obj in session.new or obj in session.deleted else _changed_columns(obj)
                if changed is None or changed & LISTED_BY:
                    notes.keys.add(LISTS)
                if changed is None or CONFIRMED_COUNT in changed:
                    notes.keys.add(COUNTS)
        elif table == CATEGORIES or (table == USERS and _public_profile_changed(session, obj)):
            _notes(session).everything()


def _written_columns(statement) -> set[str] | None:
    """The columns an UPDATE sets, or None when they cannot be told (SQLAlchemy keeps them in ``_values``)."""
    values = getattr(statement, "_values", None) or dict(getattr(statement, "_ordered_values", None) or ())
    if not values:
        return None
    return {getattr(column, "key", None) or str(column) for column in values}


def _conjuncts(clause) -> Iterable:
    if isinstance(clause, elements.BooleanClauseList) and clause.operator is operators.and_:
        for part in clause.clauses:
            yield from _conjuncts(part)
    elif clause is not None:
        yield clause


def _compared_values(clause) -> tuple[object, list] | None:
    """(column, values) of ``column = value`` or ``column IN (values)``, else None."""
    if not isinstance(clause, elements.BinaryExpression) or not isinstance(clause.left, elements.ColumnClause):
        return None
    right = clause.right
    if isinstance(right, elements.Grouping):
        right = right.element
    if not isinstance(right, elements.BindParameter):
        return None
    value = right.effective_value
    if clause.operator is operators.eq:
        return clause.left, [value]
    if clause.operator is operators.in_op and isinstance(value, list | tuple):
        return clause.left, list(value)
    return None


def _row_event_ids(session: Session, table_name: str, row_ids: list) -> set[int] | None:
    """The events of rows of an event table found by their ids in the session (None: not all were there)."""
    model = MODELS.get(table_name)
    if model is None:
        return None
    mapper = inspect(model)
    event_ids = set()
    for row_id in row_ids:
        obj = session.identity_map.get(mapper.identity_key_from_primary_key((row_id,)))
        if obj is None:
            return None
        event_ids.add(getattr(obj, EVENT_ROWS[table_name]))
    return event_ids


def _statement_event_ids(session: Session, table_name: str, statement) -> set[int] | None:
    """The events a single-statement write touches, read from its WHERE clause: ``event_id = x``, ``id = x`` (of
    events, or of a row loaded in this session), or a foreign key to such a row (a reply's ``parent_id``)."""
    for clause in _conjuncts(getattr(statement, "whereclause", None)):
        compared = _compared_values(clause)
        if compared is None:
            continue
        column, values = compared
        if column.table.name != table_name:
            continue
        if column.name == EVENT_ROWS[table_name]:
            return set(values)
        if column.name == "id":
            return _row_event_ids(session, table_name, values)
        for foreign_key in column.foreign_keys:
            target = foreign_key.column.table.name
            if target in EVENT_ROWS and foreign_key.column.name == "id":
                if target == "events":
                    return set(values)
                return _row_event_ids(session, target, values)
    return None


def _note_statement(state) -> None:
    # single-statement writes (conditional UPDATEs for capacity, bulk deletes) bypass the flush
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in EVENT_ROWS:
        notes = _notes(state.session)
        event_ids = None if state.is_insert else _statement_event_ids(state.session, name, state.statement)
        if event_ids is None:
            notes.everything()
            return
        notes.events(event_ids)
        if name == "events":
            columns = _written_columns(state.statement) if state.is_update else None
            if columns is None or columns & LISTED_BY:
                notes.keys.add(LISTS)
            if columns is None or CONFIRMED_COUNT in columns:
                notes.keys.add(COUNTS)
    elif name == CATEGORIES:
        _notes(state.session).everything()
    elif name == USERS:
        columns = _written_columns(state.statement) if state.is_update else None
        if state.is_delete or (state.is_update and (columns is None or columns & USER_PUBLIC_COLUMNS)):
            _notes(state.session).everything()


def _bump_after_commit(session: Session) -> None:
    notes = session.info.pop(_NOTES, None)
    if notes is not None and notes.keys and has_app_context():
        bump(current_app._get_current_object(), notes.keys)


def _forget_after_rollback(session: Session, previous_transaction) -> None:
    # a savepoint rolled back leaves the outer transaction's writes to come: forget only with the outermost one
    if previous_transaction.parent is None:
        session.info.pop(_NOTES, None)


LISTENERS = (
    ("after_flush", _note_flushed_rows),
    ("do_orm_execute", _note_statement),
    ("after_commit", _bump_after_commit),
    ("after_soft_rollback", _forget_after_rollback),
)
MODELS: dict[str, type] = {}


def init_app(app: Flask) -> None:
    """Invalidate on every commit that wrote what event answers show, whichever session of the process made it."""
    if redis.configured(app):
        app.extensions["mutiroes_cache_redis"] = RedisStore(app)
        # a new Redis master may lack the last bumps the old one took (replication is asynchronous, a restart can
        # lose its last second): every stored answer and worker copy is made invalid once, by the relays that notice
        outbox.on_master_change(app, functools.partial(invalidate_all, app))
    for mapper in db.Model.registry.mappers:
        if mapper.local_table is not None and mapper.local_table.name in EVENT_ROWS:
            MODELS[mapper.local_table.name] = mapper.class_
    for name, listener in LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
