"""The RQ worker: ``python -m workers.worker [--burst] [--queues emails,default,periodic]``.

Jobs run in this process, one at a time (``SimpleWorker``: no fork per job, so the database pool and the Redis
client are reused; run more worker processes to scale). The worker also runs RQ's scheduler for retry back-off and
the outbox relay every ``MUTIROES_OUTBOX_RELAY_INTERVAL_SECONDS``. SIGTERM or SIGINT: the job in progress finishes,
then the worker exits (a second signal stops it at once).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from mutiroes import create_app, jobs
from mutiroes.outbox import RelayThread

log = logging.getLogger("workers.worker")


def redis_for_workers(url: str) -> Redis:
    # no socket timeout: the worker blocks on BLPOP for minutes by design
    return Redis.from_url(url, health_check_interval=30, socket_connect_timeout=5, socket_keepalive=True)


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

    def __init__(self, *args, app=None, relay_interval: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self.relay_interval = relay_interval
        self.relay: RelayThread | None = None
        self._scheduler_checked = 0.0
        self._scheduler_burst = True

    def dequeue_job_and_maintain_ttl(self, timeout, *args, **kwargs):
        if timeout is not None:
            timeout = min(timeout, self.SCHEDULER_CHECK_SECONDS)
        return super().dequeue_job_and_maintain_ttl(timeout, *args, **kwargs)

    def heartbeat(self, *args, **kwargs):
        result = super().heartbeat(*args, **kwargs)
        if kwargs.get("pipeline") is None and len(args) < 2:
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


def build_worker(app, queues: list[str] | None = None, *, name: str | None = None) -> MutiroesWorker:
    settings = app.config["MUTIROES"]
    if settings.redis_url is None:
        raise SystemExit("MUTIROES_REDIS_URL is not set: without Redis, jobs run inside the API process")
    jobs.bind_app(app)
    connection = redis_for_workers(settings.redis_url)
    return MutiroesWorker(
        [Queue(q, connection=connection) for q in (queues or jobs.QUEUES)],
        connection=connection,
        name=name or f"mutiroes-{socket.gethostname()}-{os.getpid()}",
        app=app,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mutirões RQ worker (queues emails, default, periodic).")
    parser.add_argument("--burst", action="store_true", help="work until the queues are empty, then exit")
    parser.add_argument("--queues", default=",".join(jobs.QUEUES), help="comma-separated, in priority order")
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    app = create_app()
    worker = build_worker(app, [q.strip() for q in args.queues.split(",") if q.strip()], name=args.name)
    log.info("worker %s on %s", worker.name, ", ".join(worker.queue_names()))
    worker.work(burst=args.burst, with_scheduler=True, logging_level=app.config["MUTIROES"].log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
