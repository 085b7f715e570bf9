"""The transactional outbox: requested jobs as rows written in the requesting transaction, pushed to RQ after it.

A row is committed together with the change that caused it, so a job exists exactly when its cause does. After the
commit the requesting process pushes the row to RQ (job id = row id), and that is all it does: no second
transaction on the request's path. The relay, running inside every worker and scheduler process, claims the rows no
relay has yet seen in RQ once they are older than a grace period, with ``SELECT ... FOR UPDATE SKIP LOCKED`` (so
several relays never handle the same row at once), asks RQ in one round trip which of them it holds, pushes the
others (the requester found Redis down, or died between its commit and its push) and marks them all enqueued. A push
that happens twice anyway (a requester slower than the grace period) is harmless: every job is idempotent.

Redis replicates asynchronously, so a job pushed to a master that dies a moment later may never reach the replica
that takes over. Each relay notices the change of master and pushes again what the new one does not know
(:func:`reconcile`), after what the processes registered with :func:`on_master_change` (the response cache makes
its stored answers invalid, since the bumps the old master took with it would leave old answers valid; the scheduler
registers its periodic jobs again). A worker killed between taking a job off its queue and starting it leaves the
job queued in no queue; the relays push such jobs again too (:class:`OrphanWatch`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable

import redis as redis_lib
import sqlalchemy as sa
from flask import Flask
from rq import Queue, Retry
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from sqlalchemy.orm import Mapped, mapped_column

from mutiroes.jobs import queues, registry
from mutiroes.models import UTCDateTime, db
from mutiroes.platform.redis import redis
from mutiroes.timeutil import utcnow

log = logging.getLogger(__name__)

# results of finished jobs are kept this long, so the relay can tell that a row was already pushed and ran
RESULT_TTL_SECONDS = 24 * 3600
FAILURE_TTL_SECONDS = 30 * 24 * 3600
# an outbox row pushed to RQ is only kept this long, for operators looking into a job's history
OUTBOX_RETENTION = dt.timedelta(days=7)
# when the Redis master changes (a Sentinel failover, or a restart that lost its last writes), rows pushed this
# recently are checked against RQ and pushed again if the new master never heard of them
RECONCILE_WINDOW = dt.timedelta(minutes=10)
# a worker killed between taking a job off its queue (BLPOP) and starting it leaves the job "queued" in no queue;
# the relays look for such jobs among the rows requested this recently, this often, and push again the ones found twice
ORPHAN_WINDOW = dt.timedelta(hours=1)
ORPHAN_CHECK_SECONDS = 30.0
REDIS_ERRORS = (redis_lib.exceptions.ConnectionError, redis_lib.exceptions.TimeoutError, OSError)
_MASTER_CHANGE_HOOKS = "mutiroes_outbox_master_change_hooks"


def on_master_change(app: Flask, hook: Callable[[], None]) -> None:
    """Have every relay of ``app`` run ``hook`` when it finds a new Redis master, before its reconcile. A hook that
    raises makes the relay do the whole round again next time (hooks must be idempotent). For the layers above this
    one (jobs knows nothing of them) and for the entry points."""
    hooks = app.extensions.setdefault(_MASTER_CHANGE_HOOKS, [])
    if hook not in hooks:
        hooks.append(hook)


def run_master_change_hooks(app: Flask) -> None:
    """Run every hook, then raise the first failure, if any."""
    failure: Exception | None = None
    for hook in app.extensions.get(_MASTER_CHANGE_HOOKS, ()):
        try:
            hook()
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


class OutboxJob(db.Model):
    """A job requested by a committed transaction; ``enqueued_at`` is set once a relay has seen RQ hold it (or
    pushed it itself)."""

    __tablename__ = "outbox_jobs"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    kwargs: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    push_attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # the request that caused the job (its X-Request-Id), so the job's log lines can be read with the request's;
    # null for jobs no request caused (periodic jobs, the CLI)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    # not before this moment (``jobs.request_at``): pushed at once, held by RQ's scheduler until then; null = now
    run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # the relay only ever looks for rows not yet pushed, oldest first
        sa.Index(
            "ix_outbox_jobs_pending",
            "created_at",
            postgresql_where=sa.text("enqueued_at IS NULL"),
            sqlite_where=sa.text("enqueued_at IS NULL"),
        ),
    )


# the function RQ calls for every job (stable: jobs already queued by an older release still find it)
EXECUTE = "mutiroes.jobs.execute"
# the RQ job's meta key that carries the request id to the worker (meta, not kwargs: job functions take ids only)
REQUEST_ID_META = "request_id"


def request_id_of(job: Job) -> str | None:
    """The id of the request that caused an RQ job, ``None`` for a job no request caused (periodic ones)."""
    return job.meta.get(REQUEST_ID_META)


def _queue_and_options(app: Flask, name: str, kwargs: dict, request_id: str | None):
    options = registry.options_for(name)
    settings = app.config["MUTIROES"]
    intervals = list(settings.job_retry_intervals)
    retries = options.max_retries if options.max_retries is not None else len(intervals)
    retry = Retry(max=retries, interval=intervals or 0) if retries > 0 else None
    queue = queues.queue(options.queue, _redis(app))
    call = {
        "args": (name,),
        "kwargs": kwargs,
        "timeout": options.timeout,
        "result_ttl": RESULT_TTL_SECONDS,
        "failure_ttl": FAILURE_TTL_SECONDS,
        "description": registry.describe(name, kwargs),
        "retry": retry,
        "meta": {REQUEST_ID_META: request_id} if request_id else None,
    }
    return queue, call


def _redis(app: Flask) -> redis_lib.Redis:
    client = redis.client_for(app)
    if client is None:
        raise RuntimeError(f"the outbox needs Redis: {redis.NOT_CONFIGURED}")
    return client


def push(
    app: Flask,
    job_id: str,
    name: str,
    kwargs: dict,
    *,
    request_id: str | None = None,
    run_at: dt.datetime | None = None,
) -> None:
    """Put one outbox row on its RQ queue under its own id (on RQ's schedule when ``run_at`` is still ahead)."""
    queue, call = _queue_and_options(app, name, kwargs, request_id)
    if run_at is not None and run_at > utcnow():
        # the workers run RQ's scheduler (with_scheduler=True), which moves the job to its queue when due
        call["job_timeout"] = call.pop("timeout")
        queue.enqueue_at(run_at, EXECUTE, job_id=job_id, **call)
    else:
        queue.enqueue_call(EXECUTE, job_id=job_id, **call)


def push_after_commit(app: Flask, rows: list[tuple[str, str, dict, str | None, dt.datetime | None]]) -> None:
    """Push the rows just committed, ``(id, name, kwargs, request id, run at)``; on a Redis failure leave the rest
    for the relay. Nothing is written back: the relay marks the rows once it sees RQ hold them."""
    try:
        for job_id, name, kwargs, request_id, run_at in rows:
            try:
                push(app, job_id, name, kwargs, request_id=request_id, run_at=run_at)
            except REDIS_ERRORS as exc:
                log.warning("Redis unreachable, job %s %s stays in the outbox for the relay: %s", name, job_id, exc)
                return
    except Exception:  # the caller's transaction is committed: whatever happens here, the relay catches up
        log.exception("pushing committed jobs failed; they stay in the outbox for the relay")


def _known_to_rq(client: redis_lib.Redis, ids: list[str]) -> set[str]:
    """Those of ``ids`` RQ holds a job for (queued, scheduled, running, or finished or failed within its TTL)."""
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.exists(f"{Job.redis_job_namespace_prefix}{job_id}")
    return {job_id for job_id, exists in zip(ids, pipe.execute(), strict=True) if exists}


def relay(app: Flask, *, batch_size: int = 100, grace_seconds: int | None = None) -> int:
    """Mark enqueued every outbox row older than the grace period that RQ holds, after pushing those it does not;
    returns how many it pushed."""
    settings = app.config["MUTIROES"]
    grace = settings.outbox_relay_grace_seconds if grace_seconds is None else grace_seconds
    client = _redis(app)
    total = 0
    with app.app_context():
        try:
            while True:
                cutoff = utcnow() - dt.timedelta(seconds=grace)
                rows = db.session.scalars(
                    sa.select(OutboxJob)
                    .where(OutboxJob.enqueued_at.is_(None), OutboxJob.created_at <= cutoff)
                    .order_by(OutboxJob.created_at)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                ).all()
                if not rows:
                    db.session.rollback()
                    return total
                marked: list[str] = []
                try:
                    known = _known_to_rq(client, [row.id for row in rows])
                    for row in rows:
                        if row.id not in known:
                            push(app, row.id, row.name, row.kwargs, request_id=row.request_id, run_at=row.run_at)
                            total += 1
                        marked.append(row.id)
                except REDIS_ERRORS as exc:
                    # keep what was marked; the rest waits for the next round
                    failed = rows[len(marked)]
                    failed.push_attempts += 1
                    failed.last_error = str(exc)[:500]
                    _mark(marked)
                    db.session.commit()
                    log.warning("outbox relay: Redis unreachable (%s); %d rows pushed this round", exc, total)
                    return total
                _mark(marked)
                db.session.commit()
                if len(rows) < batch_size:
                    return total
        finally:
            db.session.remove()


def _mark(ids: list[str]) -> None:
    """Mark enqueued, in one statement, rows this transaction holds locked."""
    if ids:
        db.session.execute(
            sa.update(OutboxJob).where(OutboxJob.id.in_(ids)).values(enqueued_at=utcnow()),
            execution_options={"synchronize_session": False},
        )


def _push_again(app: Flask, rows: sa.Select, missing: Callable[[list[OutboxJob]], set[str]], what: str) -> int:
    """Lock the outbox rows ``rows`` selects (``SKIP LOCKED``), push again those ``missing`` names among them,
    commit; returns how many. Checking under the lock keeps several relays from pushing one job twice."""
    total = 0
    with app.app_context():
        try:
            locked = db.session.scalars(rows.with_for_update(skip_locked=True)).all()
            lost = missing(locked) if locked else set()
            for row in locked:
                if row.id in lost:
                    push(app, row.id, row.name, row.kwargs, request_id=row.request_id, run_at=row.run_at)
                    total += 1
            db.session.commit()
        finally:
            db.session.remove()
    if total:
        log.warning("outbox: %d jobs %s were pushed again", total, what)
    return total


def reconcile(app: Flask, *, window: dt.timedelta = RECONCILE_WINDOW, batch_size: int = 500) -> int:
    """Push again the rows pushed within ``window`` whose job RQ does not know; returns how many.

    A job pushed to a master that died before its replica had it is lost with it, though its row says "enqueued".
    A finished or failed job stays known to RQ for a day (RESULT_TTL_SECONDS) or a month, so an unknown id within
    the window can only be such a loss. Rows are locked while checked, so several relays never push one twice; the
    jobs are idempotent and their emails keyed, so a push that happens twice anyway sends nothing twice.
    """
    client = _redis(app)

    def unknown(rows: list[OutboxJob]) -> set[str]:
        ids = [row.id for row in rows]
        return set(ids) - _known_to_rq(client, ids)

    return _push_again(
        app,
        sa.select(OutboxJob)
        .where(OutboxJob.enqueued_at.is_not(None), OutboxJob.enqueued_at >= utcnow() - window)
        .order_by(OutboxJob.enqueued_at)
        .limit(batch_size),
        unknown,
        "the Redis master did not know",
    )


def _queued_nowhere(client: redis_lib.Redis, ids: list[str]) -> set[str]:
    """Those of ``ids`` whose job RQ has as ``queued`` while neither its queue nor that queue's intermediate list
    (RQ's single-queue workers move a job there as they take it) holds it."""
    if not ids:
        return set()
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(f"{Job.redis_job_namespace_prefix}{job_id}", "status", "origin")
    queued = {
        job_id: origin.decode()
        for job_id, (status, origin) in zip(ids, pipe.execute(), strict=True)
        if status == b"queued" and origin
    }
    if not queued:
        return set()
    # whole lists, once per queue: O(length) each, where LPOS per job would be O(jobs x length) in a backlog
    names = sorted(set(queued.values()))
    pipe = client.pipeline(transaction=False)
    for name in names:
        key = f"{Queue.redis_queue_namespace_prefix}{name}"
        pipe.lrange(key, 0, -1)
        pipe.lrange(IntermediateQueue.get_intermediate_queue_key(key), 0, -1)
    lists = pipe.execute()
    held = {name: {i.decode() for i in lists[2 * n] + lists[2 * n + 1]} for n, name in enumerate(names)}
    return {job_id for job_id, origin in queued.items() if job_id not in held[origin]}


def queued_nowhere(app: Flask, *, window: dt.timedelta = ORPHAN_WINDOW, limit: int = 5000) -> set[str]:
    """Ids of the rows requested within ``window`` whose job is queued in no queue (the newest ``limit`` rows),
    marked by a relay yet or not (a job RQ has never heard of is not "queued": the relay pushes those)."""
    with app.app_context():
        try:
            ids = db.session.scalars(
                sa.select(OutboxJob.id)
                .where(OutboxJob.created_at >= utcnow() - window)
                .order_by(OutboxJob.created_at.desc())
                .limit(limit)
            ).all()
        finally:
            db.session.remove()
    return _queued_nowhere(_redis(app), list(ids))


def push_orphans_again(app: Flask, ids: set[str]) -> int:
    """Push again those of ``ids`` that are still queued in no queue once their rows are locked; returns how many."""
    client = _redis(app)
    return _push_again(
        app,
        sa.select(OutboxJob).where(OutboxJob.id.in_(sorted(ids))),
        lambda rows: _queued_nowhere(client, [row.id for row in rows]),
        "taken off their queue by a worker that never ran them",
    )


class OrphanWatch:
    """Finds jobs a worker took off their queue and never started, and pushes them again.

    Between taking a job (BLPOP) and marking it started a worker spends a moment: a job seen queued nowhere once may
    be in that moment, so only a job seen so on two checks in a row (``ORPHAN_CHECK_SECONDS`` apart) is pushed.
    """

    def __init__(self) -> None:
        self.suspects: set[str] = set()

    def check(self, app: Flask) -> int:
        found = queued_nowhere(app)
        confirmed = found & self.suspects
        self.suspects = found - confirmed
        return push_orphans_again(app, confirmed) if confirmed else 0


class MasterWatch:
    """Tells when the Redis master is no longer the server it was (its run id changed).

    A new master stays "changed" until :meth:`accept` says what it needed was done: a relay round that failed half
    way (Redis or the database flapping during the failover) does it all again next round.
    """

    def __init__(self) -> None:
        self.run_id: str | None = None
        self._seen: str | None = None

    def changed(self, client: redis_lib.Redis) -> bool:
        self._seen = client.info("server").get("run_id")
        if self.run_id is None:  # the first look only remembers
            self.run_id = self._seen
        return self._seen != self.run_id

    def accept(self) -> None:
        self.run_id = self._seen


class RelayThread(threading.Thread):
    """Runs :func:`relay` every ``interval`` seconds until stopped (inside the worker and scheduler processes)."""

    def __init__(
        self,
        app: Flask,
        interval: float | None = None,
        *,
        orphan_check_seconds: float = ORPHAN_CHECK_SECONDS,
    ) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.app = app
        self.interval = interval or app.config["MUTIROES"].outbox_relay_interval_seconds
        self._stop_event = threading.Event()
        self.master = MasterWatch()
        self.orphans = OrphanWatch()
        self.orphan_check_seconds = orphan_check_seconds
        self._next_orphan_check = time.monotonic() + orphan_check_seconds

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                if self.master.changed(_redis(self.app)):
                    log.warning("the Redis master changed: checking the jobs pushed in the last %s", RECONCILE_WINDOW)
                    run_master_change_hooks(self.app)  # the cache's bump, the scheduler's periodic jobs
                    reconcile(self.app)
                    self.master.accept()
                pushed = relay(self.app)
                if pushed:
                    log.info("outbox relay pushed %d jobs", pushed)
                if time.monotonic() >= self._next_orphan_check:
                    self._next_orphan_check = time.monotonic() + self.orphan_check_seconds
                    self.orphans.check(self.app)
            except Exception:  # a database or Redis outage must not kill the relay; it tries again next round
                log.exception("outbox relay round failed")
            self._stop_event.wait(self.interval)

    def stop(self, timeout: float = 10) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)


def purge_pushed(now: dt.datetime) -> int:
    """Clean-up step: rows pushed to RQ more than ``OUTBOX_RETENTION`` ago."""
    return db.session.execute(
        sa.delete(OutboxJob).where(OutboxJob.enqueued_at.is_not(None), OutboxJob.enqueued_at < now - OUTBOX_RETENTION)
    ).rowcount
