"""The periodic jobs, declared once. Each entry has a stable id: registering the list again (a restarted or second
scheduler, ``flask jobs schedule``) leaves an unchanged entry alone, replaces a changed one under the same id and
removes entries no longer listed. Cron expressions are read in ``MUTIROES_TIME_ZONE``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import redis as redis_lib
from crontab import CronTab
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq_scheduler import Scheduler
from rq_scheduler.utils import to_unix

from mutiroes.jobs import queues, registry
from mutiroes.jobs.outbox import EXECUTE
from mutiroes.timeutil import utcnow

log = logging.getLogger(__name__)

ID_PREFIX = "periodic-"  # RQ job ids allow letters, digits, "_" and "-" only
REGISTRATION_LOCK = "mutiroes:schedule-registration"


@dataclass(frozen=True)
class Periodic:
    id: str  # stable; the RQ job id is ``periodic-<id>``
    job: str  # a name of the job registry
    cron: str  # minute hour day-of-month month day-of-week, in MUTIROES_TIME_ZONE
    description: str
    kwargs: dict = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return ID_PREFIX + self.id


SCHEDULE: tuple[Periodic, ...] = (
    Periodic(
        "cleanup-expired-events",
        "cleanup_expired_events",
        "0 2 * * *",
        "Diariamente às 02:00: encerra eventos passados, apaga rascunhos antigos e sessões expiradas.",
    ),
    Periodic(
        "monthly-impact-report",
        "generate_monthly_impact_report",
        "0 3 1 * *",
        "Dia 1 às 03:00: relatório de impacto do mês anterior (sem argumentos = mês anterior).",
    ),
    Periodic(
        "event-reminders-24h",
        "send_due_event_reminders",
        "0 * * * *",
        "De hora em hora: lembrete aos participantes de eventos que começam nas próximas 24 horas.",
        {"reminder": "24h"},
    ),
    Periodic(
        "event-reminders-2h",
        "send_due_event_reminders",
        "*/15 * * * *",
        "A cada 15 minutos: segundo lembrete, 2 horas antes do início.",
        {"reminder": "2h"},
    ),
    Periodic(
        "nearby-events-digest",
        "send_nearby_events_digest",
        "0 9 * * 4",
        "Quintas-feiras às 09:00: resumo semanal dos eventos novos a até 25 km de cada pessoa (new_events_nearby).",
    ),
)


def next_run(cron: str, tz: ZoneInfo, after: dt.datetime | None = None) -> dt.datetime:
    """The next time ``cron`` fires, read in ``tz``; returned in UTC."""
    now = (after or utcnow()).astimezone(tz)
    return CronTab(cron).next(now=now, return_datetime=True, default_utc=False).astimezone(dt.UTC)


class ZonedScheduler(Scheduler):
    """rq-scheduler reading cron expressions in one configured zone, not the process's local zone."""

    def __init__(self, *args, time_zone: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tz = ZoneInfo(time_zone)

    def enqueue_job(self, job):
        # rq-scheduler reschedules cron jobs in the process's zone; put the next run where our zone says
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # crontab's notice about its own defaults
            result = super().enqueue_job(job)
        cron = job.meta.get("cron_string")
        if cron and self.connection.zscore(self.scheduled_jobs_key, job.id) is not None:
            self.connection.zadd(self.scheduled_jobs_key, {job.id: to_unix(next_run(cron, self.tz))})
        return result


def make_scheduler(connection: Redis, settings, *, name: str | None = None) -> ZonedScheduler:
    return ZonedScheduler(
        name=name,
        job_class=queues.JSONJob,
        queue_name=registry.PERIODIC,
        connection=connection,
        interval=settings.scheduler_interval_seconds,
        time_zone=settings.time_zone,
    )


def _signature(entry: Periodic, options: registry.JobOptions, time_zone: str) -> str:
    return json.dumps(
        {
            "job": entry.job,
            "cron": entry.cron,
            "kwargs": entry.kwargs,
            "queue": options.queue,
            "timeout": options.timeout,
            "tz": time_zone,
        },
        sort_keys=True,
    )


def register(scheduler: ZonedScheduler, schedule: tuple[Periodic, ...] = SCHEDULE) -> dict[str, list[str]]:
    """Make the scheduled jobs in Redis equal to ``schedule``; idempotent, safe with several schedulers."""
    outcome: dict[str, list[str]] = {"created": [], "replaced": [], "unchanged": [], "removed": []}
    time_zone = str(scheduler.tz)
    with scheduler.connection.lock(REGISTRATION_LOCK, timeout=60, blocking_timeout=60):
        wanted = set()
        for entry in schedule:
            wanted.add(entry.job_id)
            options = registry.options_for(entry.job)
            signature = _signature(entry, options, time_zone)
            existing = None
            if entry.job_id in scheduler:
                try:
                    existing = queues.JSONJob.fetch(entry.job_id, connection=scheduler.connection)
                except NoSuchJobError:
                    existing = None
            if existing is not None and existing.meta.get("mutiroes_signature") == signature:
                outcome["unchanged"].append(entry.id)
                continue
            if existing is not None:
                scheduler.cancel(entry.job_id)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                scheduler.cron(
                    entry.cron,
                    func=EXECUTE,
                    args=[entry.job],
                    kwargs=entry.kwargs,
                    id=entry.job_id,
                    queue_name=options.queue,
                    timeout=options.timeout,
                    result_ttl=7 * 24 * 3600,
                    description=(
                        f"{entry.id}: {registry.describe(entry.job, entry.kwargs)} @ {entry.cron} ({time_zone})"
                    ),
                    meta={"mutiroes_signature": signature, "mutiroes_periodic": entry.id},
                )
            scheduler.connection.zadd(
                scheduler.scheduled_jobs_key, {entry.job_id: to_unix(next_run(entry.cron, scheduler.tz))}
            )
            outcome["replaced" if existing is not None else "created"].append(entry.id)
        for job_id in scheduler.connection.zrange(scheduler.scheduled_jobs_key, 0, -1):
            job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
            if job_id.startswith(ID_PREFIX) and job_id not in wanted:
                scheduler.cancel(job_id)
                outcome["removed"].append(job_id.removeprefix(ID_PREFIX))
    return outcome


def scheduled(scheduler: ZonedScheduler) -> dict[str, dt.datetime]:
    """Periodic job id -> next run (UTC) as Redis holds them now."""
    runs = {}
    for job_id, score in scheduler.connection.zrange(scheduler.scheduled_jobs_key, 0, -1, withscores=True):
        job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
        if job_id.startswith(ID_PREFIX):
            runs[job_id.removeprefix(ID_PREFIX)] = dt.datetime.fromtimestamp(score, dt.UTC)
    return runs


def register_when_redis_answers(scheduler: ZonedScheduler, *, attempts: int | None = None) -> dict:
    """:func:`register`, trying again with backoff (up to 30 s) while Redis cannot be reached."""
    delay, tried = 1.0, 0
    while True:
        try:
            return register(scheduler)
        except redis_lib.exceptions.ConnectionError as exc:
            tried += 1
            if attempts is not None and tried >= attempts:
                raise
            log.warning("Redis unreachable (%s); registering the schedule again in %.0fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30)
