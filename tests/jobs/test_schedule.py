"""Periodic jobs: registration is idempotent, cron is read in MUTIROES_TIME_ZONE, a due job runs once."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from zoneinfo import ZoneInfo

from rq_scheduler.utils import to_unix

from mutiroes import jobs
from mutiroes.jobs import queues, schedule
from mutiroes.jobs.schedule import register_when_redis_answers
from mutiroes.models import db
from mutiroes.users.models import AuthSession
from tests.jobs.conftest import ROOT, mail_environ

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def scheduler_for(jobs_app, rq_connection):
    return schedule.make_scheduler(rq_connection, jobs_app.config["MUTIROES"])


def test_the_schedule_declares_the_periodic_jobs_of_the_issue():
    by_id = {entry.id: entry for entry in schedule.SCHEDULE}
    assert by_id["cleanup-expired-events"].cron == "0 2 * * *"
    assert by_id["monthly-impact-report"].cron == "0 3 1 * *"
    assert by_id["monthly-impact-report"].kwargs == {}  # no arguments: the month before the run
    assert by_id["event-reminders-24h"].job == by_id["event-reminders-2h"].job == "send_due_event_reminders"
    assert len(by_id) == len(schedule.SCHEDULE)  # ids are unique


def test_registering_twice_or_from_two_schedulers_never_duplicates(jobs_app, rq_connection):
    first = schedule.register(scheduler_for(jobs_app, rq_connection))
    every = [entry.id for entry in schedule.SCHEDULE]
    assert first["created"] == every
    before = schedule.scheduled(scheduler_for(jobs_app, rq_connection))

    outcomes = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(schedule.register(scheduler_for(jobs_app, rq_connection))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [o["unchanged"] for o in outcomes] == [every] * 2
    assert schedule.scheduled(scheduler_for(jobs_app, rq_connection)) == before  # next run kept, no copy
    assert rq_connection.zcard("rq:scheduler:scheduled_jobs") == len(every)


def test_two_scheduler_processes_register_one_copy(jobs_app, smtp_sink, make_config, rq_connection, postgres):
    settings = jobs_app.config["MUTIROES"]
    environ = {
        "PATH": "/usr/bin:/bin",
        "MUTIROES_DATABASE_URL": settings.database_url,
        "MUTIROES_REDIS_URL": settings.redis_url,
        "MUTIROES_SECRET_KEY": settings.secret_key,
        "MUTIROES_LOG_LEVEL": "WARNING",
        **mail_environ(smtp_sink),
    }
    processes = [
        subprocess.Popen([sys.executable, "-m", "workers.scheduler", "--burst"], cwd=ROOT, env=environ)
        for _ in range(2)
    ]
    assert [p.wait(timeout=60) for p in processes] == [0, 0]
    every = {entry.id for entry in schedule.SCHEDULE}
    assert set(schedule.scheduled(scheduler_for(jobs_app, rq_connection))) == every
    assert rq_connection.zcard("rq:scheduler:scheduled_jobs") == len(every)


def test_cron_is_read_in_the_configured_time_zone(jobs_app, rq_connection):
    after = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
    assert schedule.next_run("0 2 * * *", SAO_PAULO, after) == dt.datetime(2026, 11, 30, 5, 0, tzinfo=dt.UTC)
    assert schedule.next_run("0 3 1 * *", SAO_PAULO, after) == dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)

    schedule.register(scheduler_for(jobs_app, rq_connection))
    runs = schedule.scheduled(scheduler_for(jobs_app, rq_connection))
    local = runs["cleanup-expired-events"].astimezone(SAO_PAULO)
    assert (local.hour, local.minute) == (2, 0)


def test_a_changed_entry_is_replaced_and_an_unlisted_one_removed(jobs_app, rq_connection):
    scheduler = scheduler_for(jobs_app, rq_connection)
    old = schedule.Periodic("old-entry", "cleanup_expired_events", "0 4 * * *", "a retired entry")
    schedule.register(scheduler, (*schedule.SCHEDULE, old))
    changed = schedule.Periodic("cleanup-expired-events", "cleanup_expired_events", "30 2 * * *", "moved")
    outcome = schedule.register(scheduler, (changed,))
    assert outcome["replaced"] == ["cleanup-expired-events"]
    assert sorted(outcome["removed"]) == sorted(
        ["old-entry", *(entry.id for entry in schedule.SCHEDULE if entry.id != "cleanup-expired-events")]
    )
    [run] = schedule.scheduled(scheduler).values()
    assert run.astimezone(SAO_PAULO).minute == 30


def test_a_due_periodic_job_is_enqueued_once_runs_and_is_rescheduled(jobs_app, rq_connection, work, make_user):
    user = make_user()
    with jobs_app.app_context():
        db.session.add(AuthSession(id="e" * 32, user_id=user["id"], expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        db.session.commit()
        db.session.remove()

    scheduler = scheduler_for(jobs_app, rq_connection)
    register_when_redis_answers(scheduler)
    job_id = "periodic-cleanup-expired-events"
    rq_connection.zadd(scheduler.scheduled_jobs_key, {job_id: to_unix(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))})

    # two schedulers' rounds: rq-scheduler's lock and the stable id keep it to one queued copy
    scheduler.run(burst=True)
    scheduler_for(jobs_app, rq_connection).run(burst=True)
    periodic = queues.queue(jobs.PERIODIC, rq_connection)
    assert periodic.job_ids == [job_id]

    work()
    assert periodic.finished_job_registry.get_job_ids() == [job_id]
    finished = periodic.fetch_job(job_id)
    assert finished.return_value()["expired_sessions"] == 1
    with jobs_app.app_context():
        assert db.session.get(AuthSession, "e" * 32) is None
        db.session.remove()
    # rescheduled for the next 02:00 in São Paulo
    next_local = schedule.scheduled(scheduler)["cleanup-expired-events"].astimezone(SAO_PAULO)
    assert (next_local.hour, next_local.minute) == (2, 0)
    assert next_local > dt.datetime.now(SAO_PAULO)
