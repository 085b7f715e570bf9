"""The RQ worker of Mutirões: a SimpleWorker that also runs the outbox relay and keeps RQ's own scheduler alive.

Jobs run in the worker's process, one at a time (no fork per job, so the database pool and the Redis client are
reused; run more worker processes to scale). SIGTERM or SIGINT: the job in progress finishes, then the worker exits
(a second signal stops it at once). ``workers/worker.py`` is its command line.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time

from redis.exceptions import RedisError
from rq import SimpleWorker

from mutiroes.jobs import queues, registry, runner
from mutiroes.jobs.outbox import REDIS_ERRORS, RelayThread, request_id_of
from mutiroes.platform import logs
from mutiroes.platform.redis import worker_connection

log = logging.getLogger(__name__)


def process_name(prefix: str) -> str:
    """``<prefix><host>-<pid>-<random>``: the name an RQ worker or scheduler registers under, new at every start.

    RQ and rq-scheduler refuse to start under the name of one whose key has not expired yet. A process that died
    without saying so (killed, or quit on a Redis failover) leaves its key for minutes, and in a container the pid
    is the same at every start: a host-and-pid name would keep the restarted process refusing until then.
    """
    return f"{prefix}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class MutiroesWorker(SimpleWorker):
    """An RQ worker that also runs the outbox relay while it works."""

    # RQ waits 1, 2, 4... up to 60 s between attempts to reach a Redis that went away; capped at 5 s, the jobs the
    # relay pushes after a longer outage start within seconds of Redis coming back (an attempt costs one connect)
    max_connection_wait_time = 5.0
    # RQ's scheduler process (it moves retries whose back-off is over back onto their queue) dies when Redis goes
    # away, and RQ starts it again only in its maintenance round, every 10 minutes, which an idle worker blocked on
    # BLPOP reaches even later: after a Redis outage, retried jobs (SMTP down, say) stalled for that long. The
    # worker wakes at least every SCHEDULER_CHECK_SECONDS and starts the scheduler again when it is gone.
    SCHEDULER_CHECK_SECONDS = 5
    # how long a job whose run Redis interrupted waits for Redis to take it back onto its queue
    REQUEUE_WAIT_SECONDS = 60

    def __init__(self, *args, app=None, relay_interval: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self.relay_interval = relay_interval
        self.relay: RelayThread | None = None
        self._scheduler_checked = 0.0
        self._scheduler_burst = True

    def execute_job(self, job, queue):
        # RQ's own lines about the job (its traceback when it fails, "Job OK") carry the request id like the job's
        with logs.request_id_bound(request_id_of(job)):
            try:
                super().execute_job(job, queue)
            except REDIS_ERRORS as exc:
                # Redis went away while RQ recorded the job's start or its end: the job was taken off its queue
                # and may not have run. Left there it would be lost (RQ would quit, and nothing holds its id any
                # more); it goes back on its queue instead, to run again (every job is idempotent).
                self._requeue(job, queue, exc)

    def _requeue(self, job, queue, error: Exception) -> None:
        log.warning("Redis failed around job %s (%s): putting it back on %s", job.id, error, queue.name)
        deadline = time.monotonic() + self.REQUEUE_WAIT_SECONDS
        while True:
            try:
                queue.push_job_id(job.id, at_front=True)
                log.info("job %s is back on %s", job.id, queue.name)
                return
            except REDIS_ERRORS:
                if time.monotonic() >= deadline:
                    log.error("job %s could not be put back on %s: Redis did not answer", job.id, queue.name)
                    raise
                time.sleep(1)

    def dequeue_job_and_maintain_ttl(self, timeout, *args, **kwargs):
        if timeout is not None:
            timeout = min(timeout, self.SCHEDULER_CHECK_SECONDS)
        return super().dequeue_job_and_maintain_ttl(timeout, *args, **kwargs)

    def heartbeat(self, *args, **kwargs):
        standalone = kwargs.get("pipeline") is None and len(args) < 2  # not part of a pipeline RQ executes itself
        try:
            result = super().heartbeat(*args, **kwargs)
        except REDIS_ERRORS as exc:
            if not standalone:
                raise
            # RQ beats once more right after taking a job off its queue, outside the part of its loop that waits
            # for Redis: a failover at that instant made the worker quit holding the job. A missed beat costs
            # nothing (the key lives minutes); the job runs, and the next call that needs Redis waits for it.
            log.warning("worker heartbeat failed: %s", exc)
            return None
        if standalone:
            self._revive_scheduler()
        return result

    def _revive_scheduler(self) -> None:
        scheduler = self.scheduler
        if scheduler is None or self._scheduler_burst:
            return
        if time.monotonic() - self._scheduler_checked < self.SCHEDULER_CHECK_SECONDS:
            return
        self._scheduler_checked = time.monotonic()
        if scheduler._process is None or not scheduler._process.is_alive():
            try:
                # takes the scheduler locks once the dead scheduler's have expired, then starts a new process
                scheduler.acquire_locks(auto_start=True)
            except RedisError as exc:
                log.warning("could not restart the RQ scheduler yet: %s", exc)

    def _start_scheduler(self, burst: bool = False, *args, **kwargs):
        self._scheduler_burst = burst
        # RQ forks its scheduler here; the relay thread starts after that fork, never before it
        super()._start_scheduler(burst, *args, **kwargs)
        if self.app is not None and self.relay is None:
            self.relay = RelayThread(self.app, self.relay_interval)
            self.relay.start()

    def teardown(self):
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        super().teardown()


def build_worker(app, names: list[str] | None = None, *, name: str | None = None) -> MutiroesWorker:
    """A worker of the queues ``names`` (all, by priority, by default) that speaks JSON with RQ."""
    settings = app.config["MUTIROES"]
    if not settings.uses_redis:
        raise SystemExit("Redis is not configured: without it, jobs run inside the API process")
    runner.bind_app(app)
    connection = worker_connection(settings)
    return MutiroesWorker(
        [queues.queue(q, connection) for q in (names or registry.QUEUES)],
        connection=connection,
        name=name or process_name("mutiroes-"),
        app=app,
        serializer=queues.SERIALIZER,
        job_class=queues.JSONJob,
    )
