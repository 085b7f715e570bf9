"""The worker as a real process: it relays the outbox, runs jobs, stops cleanly on SIGTERM, starts again after it
was killed as a container's process, and loses no job Redis dropped under it."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time

from rq import Worker

from mutiroes.jobs.outbox import OutboxJob
from mutiroes.jobs.worker import build_worker
from mutiroes.models import db
from tests.jobs.conftest import ROOT, mail_environ, register


def test_worker_process_relays_pending_rows_runs_them_and_stops_on_sigterm(
    jobs_app, jobs_client, redis_server, sink, smtp_sink
):
    # a registration while Redis is down leaves its welcome email in the outbox only
    redis_server.stop()
    try:
        assert register(jobs_client, "lia_worker").status_code == 201
    finally:
        redis_server.start()

    settings = jobs_app.config["MUTIROES"]
    environ = {
        "PATH": "/usr/bin:/bin",
        "MUTIROES_DATABASE_URL": settings.database_url,
        "MUTIROES_REDIS_URL": settings.redis_url,
        "MUTIROES_SECRET_KEY": settings.secret_key,
        "MUTIROES_LOG_LEVEL": "WARNING",
        "MUTIROES_OUTBOX_RELAY_INTERVAL_SECONDS": "1",
        **mail_environ(smtp_sink),
    }
    worker = subprocess.Popen([sys.executable, "-m", "workers.worker"], cwd=ROOT, env=environ)
    try:
        [message] = sink.wait_for(1, timeout=30)
        assert message["To"] == "lia_worker@example.org"
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert time.monotonic() - started < 30
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    with jobs_app.app_context():
        [row] = db.session.scalars(db.select(OutboxJob)).all()
        assert row.enqueued_at is not None
        db.session.remove()


def _worker_as_pid_1(environ: dict[str, str]) -> subprocess.Popen:
    """The worker as a container runs it: the first process of a PID namespace of its own, so pid 1 at every start
    (``--kill-child``: when the holder is killed, the worker dies with it, as a killed container's process)."""
    return subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", sys.executable, "-m", "workers.worker"], cwd=ROOT, env=environ
    )


def test_a_worker_killed_as_pid_1_starts_again_under_a_new_name_and_runs_the_jobs(
    jobs_app, jobs_client, rq_connection, sink, smtp_sink
):
    settings = jobs_app.config["MUTIROES"]
    environ = {
        "PATH": "/usr/bin:/bin",
        "MUTIROES_DATABASE_URL": settings.database_url,
        "MUTIROES_REDIS_URL": settings.redis_url,
        "MUTIROES_SECRET_KEY": settings.secret_key,
        "MUTIROES_LOG_LEVEL": "WARNING",
        **mail_environ(smtp_sink),
    }
    first = _worker_as_pid_1(environ)
    second = None
    try:
        deadline = time.monotonic() + 30
        while not (workers := Worker.all(connection=rq_connection)) and time.monotonic() < deadline:
            time.sleep(0.2)
        [dead] = workers
        assert dead.pid == 1
        first.kill()  # no goodbye: its key stays in Redis for minutes, as a crashed container's does
        first.wait(timeout=10)

        assert register(jobs_client, "caio_pid1").status_code == 201
        second = _worker_as_pid_1(environ)
        [message] = sink.wait_for(1, timeout=30)
        assert message["To"] == "caio_pid1@example.org"
        assert second.poll() is None
        names = {w.name for w in Worker.all(connection=rq_connection)}
        assert dead.name in names and len(names) == 2  # the same host, pid 1 both times, two names
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_a_job_taken_just_before_redis_fails_goes_back_on_its_queue_and_runs_once(
    jobs_app, jobs_client, redis_server, rq_connection, sink, caplog
):
    assert register(jobs_client, "bia_failover").status_code == 201
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker = build_worker(jobs_app)
        worker.bootstrap(logging_level="WARNING")
        taken = worker.dequeue_job_and_maintain_ttl(1)
        assert taken is not None
        job, queue = taken
        assert queue.job_ids == []  # off its queue, held by this worker only

        redis_server.stop()
        restarted = threading.Timer(2.0, redis_server.start)
        restarted.start()
        try:
            # what RQ does next: one more heartbeat (outside its wait-for-Redis loop), then the job
            with caplog.at_level(logging.WARNING, logger="mutiroes.jobs.worker"):
                worker.heartbeat()
                worker.execute_job(job, queue)
        finally:
            restarted.join()
        assert "worker heartbeat failed" in caplog.text
        assert f"putting it back on {queue.name}" in caplog.text
        assert sink.messages() == []  # the job did not get to run with Redis gone
        assert queue.job_ids == [job.id]

        worker.teardown()
        build_worker(jobs_app).work(burst=True, logging_level="WARNING")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    [message] = sink.wait_for(1)
    assert message["To"] == "bia_failover@example.org"
    time.sleep(0.5)
    assert len(sink.messages()) == 1
