"""The transactional outbox: jobs are rows of the requesting transaction, pushed to RQ only after it commits."""

from __future__ import annotations

import datetime as dt
import json
import time
import zlib

import redis as redis_lib
import sqlalchemy as sa

from mutiroes import create_app, jobs
from mutiroes.config import Config
from mutiroes.jobs import queues
from mutiroes.jobs.metrics import outbox_backlog
from mutiroes.jobs.outbox import MasterWatch, OrphanWatch, OutboxJob, RelayThread, on_master_change, reconcile, relay
from mutiroes.models import db
from mutiroes.platform.redis import redis
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User
from tests.jobs.conftest import mail_environ, register
from tests.services import Redis


def outbox_rows(app) -> list[OutboxJob]:
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxJob).order_by(OutboxJob.created_at)).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_registration_writes_an_outbox_row_and_pushes_it_under_the_same_id(jobs_client, jobs_app, rq_connection):
    response = register(jobs_client, "ana_outbox", first_name="Ana")
    assert response.status_code == 201

    [row] = outbox_rows(jobs_app)
    assert row.name == "send_welcome_email"
    # pushed after the commit, with no second transaction to say so: the row is marked by the relay
    assert row.enqueued_at is None
    queue = queues.queue(jobs.EMAILS, rq_connection)
    assert queue.job_ids == [row.id]
    assert relay(jobs_app) == 0  # RQ holds it: marked, not pushed again
    [row] = outbox_rows(jobs_app)
    assert row.enqueued_at is not None and row.push_attempts == 0
    assert queue.job_ids == [row.id]
    queued = queue.fetch_job(row.id)
    assert queued.args == ["send_welcome_email"]
    # JSON between processes, never pickle: the job as Redis holds it is plain JSON text
    raw = rq_connection.hget(f"rq:job:{row.id}", "data")
    assert json.loads(zlib.decompress(raw))[0] == "mutiroes.jobs.execute"
    assert queued.kwargs == {"user_id": row.kwargs["user_id"]}
    assert queued.timeout == 60
    assert queued.retries_left == 2  # MUTIROES_JOB_RETRY_INTERVALS=1,1 in these tests


def test_nothing_is_pushed_before_the_transaction_commits(jobs_app, rq_connection):
    queue = queues.queue(jobs.PERIODIC, rq_connection)
    with jobs_app.app_context():
        jobs.request("cleanup_expired_events")
        db.session.flush()
        # the row exists only inside this transaction; RQ has nothing yet
        assert queue.count == 0
        with db.engine.connect() as other:
            assert other.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 0
        db.session.commit()
        assert queue.count == 1
        db.session.remove()


def test_a_rolled_back_transaction_requests_nothing(jobs_app, rq_connection):
    with jobs_app.app_context():
        jobs.request("cleanup_expired_events")
        db.session.rollback()
        db.session.commit()  # a later commit of the same session must not resurrect the request
        db.session.remove()
    assert outbox_rows(jobs_app) == []
    assert all(queues.queue(name, rq_connection).count == 0 for name in jobs.QUEUES)


def test_a_failed_registration_requests_no_welcome_email(jobs_client, jobs_app, rq_connection):
    assert register(jobs_client, "bruno_dup").status_code == 201
    again = register(jobs_client, "bruno_dup")
    assert again.status_code == 400
    assert len(outbox_rows(jobs_app)) == 1
    assert queues.queue(jobs.EMAILS, rq_connection).count == 1


def test_redis_down_during_registration_then_relay_delivers_the_email_once(
    jobs_client, jobs_app, redis_server, sink, work, rq_connection
):
    redis_server.stop()
    try:
        response = register(jobs_client, "carla_offline", first_name="Carla")
        assert response.status_code == 201
        [row] = outbox_rows(jobs_app)
        assert row.enqueued_at is None  # waiting in the outbox
        # the relay cannot push either while Redis is down; the row stays
        assert relay(jobs_app, grace_seconds=0) == 0
        [row] = outbox_rows(jobs_app)
        assert row.enqueued_at is None
        assert row.push_attempts == 1
    finally:
        redis_server.start()

    assert relay(jobs_app) == 1
    assert relay(jobs_app) == 0  # pushed once, marked
    [row] = outbox_rows(jobs_app)
    assert row.enqueued_at is not None
    assert queues.queue(jobs.EMAILS, rq_connection).job_ids == [row.id]

    work()
    messages = sink.wait_for(1)
    assert [m["To"] for m in messages] == ["carla_offline@example.org"]
    assert messages[0]["Subject"] == "Boas-vindas ao Mutirões!"

    # a relay that died before marking the row: the next one finds the job known to RQ (it ran) and only marks it
    with jobs_app.app_context():
        db.session.execute(sa.update(OutboxJob).values(enqueued_at=None))
        db.session.commit()
        db.session.remove()
    assert relay(jobs_app) == 0
    [row] = outbox_rows(jobs_app)
    assert row.enqueued_at is not None
    assert queues.queue(jobs.EMAILS, rq_connection).count == 0
    work()
    assert len(sink.wait_for(2, timeout=1)) == 1


def test_a_request_that_requests_a_job_commits_once(jobs_client, jobs_app, rq_connection):
    commits = []

    def count(connection) -> None:
        commits.append(connection)

    with jobs_app.app_context():
        engine = db.engine
    sa.event.listen(engine, "commit", count)
    try:
        assert register(jobs_client, "olga_um_commit").status_code == 201
    finally:
        sa.event.remove(engine, "commit", count)
    # the registration's own transaction, and no second one to mark the job pushed
    assert len(commits) == 1
    [row] = outbox_rows(jobs_app)
    assert queues.queue(jobs.EMAILS, rq_connection).job_ids == [row.id]


def test_the_relay_pushes_a_row_its_requester_never_pushed_and_only_marks_the_ones_rq_holds(
    jobs_client, jobs_app, rq_connection
):
    assert register(jobs_client, "paulo_empurrado").status_code == 201
    with jobs_app.app_context():
        # committed by a process that died before its push: a row RQ never heard of
        db.session.add(OutboxJob(id="never-pushed", name="cleanup_expired_events", kwargs={}))
        db.session.commit()
        db.session.remove()
    welcome, orphan = outbox_rows(jobs_app)
    assert orphan.id == "never-pushed"
    assert relay(jobs_app) == 1
    assert {row.id: row.enqueued_at is not None for row in outbox_rows(jobs_app)} == {welcome.id: True, orphan.id: True}
    assert queues.queue(jobs.EMAILS, rq_connection).job_ids == [welcome.id]
    assert queues.queue(jobs.PERIODIC, rq_connection).job_ids == ["never-pushed"]
    assert relay(jobs_app) == 0


def test_the_backlog_metric_counts_only_rows_a_relay_should_have_marked_by_now(jobs_app):
    settings = jobs_app.config["MUTIROES"]
    overdue = dt.timedelta(seconds=settings.outbox_relay_grace_seconds + 2 * settings.outbox_relay_interval_seconds)
    with jobs_app.app_context():
        db.session.add(OutboxJob(id="young", name="cleanup_expired_events", kwargs={}))
        db.session.add(
            OutboxJob(
                id="stuck",
                name="cleanup_expired_events",
                kwargs={},
                created_at=utcnow() - overdue - dt.timedelta(minutes=1),
            )
        )
        db.session.add(
            OutboxJob(
                id="done",
                name="cleanup_expired_events",
                kwargs={},
                created_at=utcnow() - overdue * 3,
                enqueued_at=utcnow() - overdue,
            )
        )
        db.session.commit()
        # the young one is the normal flow (its relay round has not come yet); only the stuck one counts
        assert outbox_backlog(jobs_app) == 1
        db.session.remove()


def test_the_relay_skips_rows_another_relay_holds(jobs_app, redis_server, rq_connection):
    redis_server.stop()
    try:
        with jobs_app.app_context():
            jobs.request("cleanup_expired_events")
            db.session.commit()
            db.session.remove()
    finally:
        redis_server.start()
    [row] = outbox_rows(jobs_app)
    with jobs_app.app_context(), db.engine.connect() as other:
        transaction = other.begin()
        other.execute(sa.select(OutboxJob.id).where(OutboxJob.id == row.id).with_for_update())
        assert relay(jobs_app) == 0  # FOR UPDATE SKIP LOCKED: the held row is somebody else's
        transaction.rollback()
    assert relay(jobs_app) == 1
    assert queues.queue(jobs.PERIODIC, rq_connection).job_ids == [row.id]


def test_jobs_a_new_redis_master_never_heard_of_are_pushed_again_once_and_sent_once(
    jobs_app, jobs_client, rq_connection, work, sink
):
    assert register(jobs_client, "erico_failover").status_code == 201
    assert relay(jobs_app) == 0  # RQ has it: the row is marked enqueued
    [row] = outbox_rows(jobs_app)
    assert row.enqueued_at is not None
    # the master died before its replica had the job: the new master does not know it, though the row says pushed
    rq_connection.delete(f"rq:job:{row.id}", "rq:queue:emails")
    assert reconcile(jobs_app) == 1
    assert reconcile(jobs_app) == 0  # known again: nothing to do
    assert queues.queue(jobs.EMAILS, rq_connection).job_ids == [row.id]
    work()
    assert [m["To"] for m in sink.wait_for(1)] == ["erico_failover@example.org"]
    # a job that ran is still known to RQ (its result is kept), so a later check does not send it again
    assert reconcile(jobs_app) == 0
    work()
    assert len(sink.wait_for(2, timeout=1)) == 1


def test_a_job_a_killed_worker_took_off_its_queue_is_pushed_again_on_the_second_look_and_sent_once(
    jobs_app, jobs_client, rq_connection, work, sink
):
    assert register(jobs_client, "fausto_orphan").status_code == 201
    [row] = outbox_rows(jobs_app)
    # a worker took it off its queue (BLPOP) and was killed before marking it started: RQ still says "queued"
    assert rq_connection.lpop("rq:queue:emails") == row.id.encode()
    watch = OrphanWatch()
    assert watch.check(jobs_app) == 0  # once may be a live worker's moment between taking and starting it
    assert watch.suspects == {row.id}
    assert watch.check(jobs_app) == 1
    assert queues.queue(jobs.EMAILS, rq_connection).job_ids == [row.id]
    assert watch.check(jobs_app) == 0  # on its queue again
    assert watch.suspects == set()
    work()
    assert [m["To"] for m in sink.wait_for(1)] == ["fausto_orphan@example.org"]
    assert watch.check(jobs_app) == 0
    assert watch.check(jobs_app) == 0  # finished: never pushed again
    work()
    assert len(sink.wait_for(2, timeout=1)) == 1


def test_the_relay_thread_of_a_worker_looks_for_such_jobs_by_itself(jobs_app, jobs_client, rq_connection):
    assert register(jobs_client, "iara_orphan").status_code == 201
    [row] = outbox_rows(jobs_app)
    assert rq_connection.lpop("rq:queue:emails") == row.id.encode()
    thread = RelayThread(jobs_app, 0.1, orphan_check_seconds=0.3)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while rq_connection.lrange("rq:queue:emails", 0, -1) != [row.id.encode()]:
            assert time.monotonic() < deadline, "the relay never pushed the job again"
            time.sleep(0.05)
    finally:
        thread.stop()
    assert not thread.is_alive()
    assert rq_connection.lrange("rq:queue:emails", 0, -1) == [row.id.encode()]  # once


def test_a_job_started_between_two_looks_or_held_in_rq_s_intermediate_list_is_not_pushed_again(
    jobs_app, jobs_client, rq_connection
):
    assert register(jobs_client, "gilda_orphan").status_code == 201
    assert register(jobs_client, "heitor_orphan").status_code == 201
    started, moved = (row.id for row in outbox_rows(jobs_app))
    assert rq_connection.lpop("rq:queue:emails") == started.encode()
    # a single-queue worker takes a job with BLMOVE into the queue's intermediate list, which RQ itself cleans up
    assert rq_connection.lmove("rq:queue:emails", "rq:queue:emails:intermediate") == moved.encode()
    watch = OrphanWatch()
    assert watch.check(jobs_app) == 0
    assert watch.suspects == {started}
    rq_connection.hset(f"rq:job:{started}", "status", "started")  # the worker that took it got to run it
    assert watch.check(jobs_app) == 0
    assert watch.check(jobs_app) == 0
    assert rq_connection.llen("rq:queue:emails") == 0
    assert rq_connection.lrange("rq:queue:emails:intermediate", 0, -1) == [moved.encode()]


def test_a_relay_notices_when_redis_is_another_master(jobs_app, redis_server):
    from_first = MasterWatch()
    client = redis.client_for(jobs_app)
    assert from_first.changed(client) is False  # the first look only remembers
    assert from_first.changed(client) is False
    other = Redis.create()
    try:
        other_client = redis_lib.Redis(port=other.port)
        assert from_first.changed(other_client) is True
        assert from_first.changed(other_client) is True  # until the round that handled it accepts it
        from_first.accept()
        assert from_first.changed(other_client) is False
    finally:
        other.destroy()


def test_a_relay_round_that_fails_on_a_new_master_is_done_again_next_round(jobs_app):
    calls = []

    def flaky() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise redis_lib.ConnectionError("the failover is not over")

    on_master_change(jobs_app, flaky)
    watcher = RelayThread(jobs_app, interval=0.05)
    try:
        watcher.master.run_id = "a-master-that-is-gone"  # what the relay saw before this server took over
        watcher.start()
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # rounds enough for a third call, had the second not been accepted
    finally:
        watcher.stop()
        jobs_app.extensions["mutiroes_outbox_master_change_hooks"].remove(flaky)
    assert len(calls) == 2
    assert watcher.master.run_id == redis.client_for(jobs_app).info("server")["run_id"]


def test_embedded_mode_runs_the_job_in_process_after_commit(app, make_config, smtp_sink, sink):
    config: Config = make_config(environ={**mail_environ(smtp_sink), "MUTIROES_REDIS_URL": ""})
    assert config.redis_url is None
    embedded = create_app(config)
    response = register(embedded.test_client(), "dora_embedded")
    assert response.status_code == 201
    [message] = sink.wait_for(1)
    assert message["To"] == "dora_embedded@example.org"
    assert outbox_rows(embedded) == []  # no Redis: nothing to relay, the job ran on a thread of this process
    with embedded.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "dora_embedded"))
        assert user is not None
        db.session.remove()


def test_a_job_requested_for_later_waits_in_rq_s_schedule_until_due_also_through_the_relay(
    jobs_app, redis_server, rq_connection, work
):
    queue = queues.queue(jobs.PERIODIC, rq_connection)
    with jobs_app.app_context():
        jobs.request_at(utcnow() + dt.timedelta(seconds=2), "cleanup_expired_events")
        db.session.commit()
        db.session.remove()
    assert relay(jobs_app) == 0  # on RQ's schedule already: only marked
    [row] = outbox_rows(jobs_app)
    assert row.run_at is not None and row.enqueued_at is not None
    assert queue.count == 0 and queue.scheduled_job_registry.get_job_ids() == [row.id]
    work()  # not due yet: the burst worker leaves it
    assert queue.scheduled_job_registry.get_job_ids() == [row.id]
    time.sleep(2.2)
    work()
    assert queue.scheduled_job_registry.get_job_ids() == [] and queue.finished_job_registry.get_job_ids() == [row.id]

    # a row Redis could not take: the relay schedules it the same way; one whose time has passed runs at once
    redis_server.stop()
    try:
        with jobs_app.app_context():
            jobs.request_at(utcnow() + dt.timedelta(hours=1), "cleanup_expired_events")
            jobs.request_at(utcnow() - dt.timedelta(seconds=1), "cleanup_expired_events")
            db.session.commit()
            db.session.remove()
    finally:
        redis_server.start()
    assert relay(jobs_app, grace_seconds=0) == 2
    later, past = sorted((r for r in outbox_rows(jobs_app) if r.id != row.id), key=lambda r: r.run_at, reverse=True)
    assert queue.scheduled_job_registry.get_job_ids() == [later.id]
    assert queue.job_ids == [past.id]


def test_embedded_mode_runs_a_job_requested_for_later_on_a_timer(app, make_config, smtp_sink, sink, make_user):
    config: Config = make_config(environ={**mail_environ(smtp_sink), "MUTIROES_REDIS_URL": ""})
    embedded = create_app(config)
    user = make_user(username="elis_later", verified=False)
    with embedded.app_context():
        jobs.request_at(utcnow() + dt.timedelta(seconds=1), "send_welcome_email", user_id=user["id"])
        db.session.commit()
        db.session.remove()
    assert sink.files() == []
    [message] = sink.wait_for(1, timeout=10)
    assert message["To"] == "elis_later@example.org"
