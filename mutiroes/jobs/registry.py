"""The jobs there are: their names, queues, timeouts and retries.

Each job function takes ids, reloads its state, is idempotent, and declares its queue and timeout with
:func:`job`. The registry names every job by ``module:function``, so this package never imports a domain: the
function is imported when a job runs or is pushed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

# queue names: a worker listens to all three, in this order of priority
EMAILS = "emails"
DEFAULT = "default"
PERIODIC = "periodic"
QUEUES = (EMAILS, DEFAULT, PERIODIC)

# job name -> "module:function"; every job takes ids only, reloads its state and is idempotent
REGISTRY: dict[str, str] = {
    "send_welcome_email": "mutiroes.users.jobs:send_welcome_email",
    "send_account_link": "mutiroes.users.jobs:send_account_link",
    "cleanup_expired_events": "mutiroes.jobs.cleanup:cleanup_expired_events",
    "send_event_notification_email": "mutiroes.events.jobs:send_event_notification_email",
    "send_bulk_event_reminders": "mutiroes.events.jobs:send_bulk_event_reminders",
    "send_due_event_reminders": "mutiroes.events.jobs:send_due_event_reminders",
    "send_event_message_emails": "mutiroes.events.jobs:send_event_message_emails",
    "send_nearby_events_digest": "mutiroes.events.digest:send_nearby_events_digest",
    "process_event_report_statistics": "mutiroes.impact.jobs:process_event_report_statistics",
    "update_user_statistics": "mutiroes.impact.jobs:update_user_statistics",
    "check_and_award_badges": "mutiroes.impact.jobs:check_and_award_badges",
    "generate_monthly_impact_report": "mutiroes.impact.jobs:generate_monthly_impact_report",
}


@dataclass(frozen=True)
class JobOptions:
    queue: str = DEFAULT
    timeout: int = 300  # seconds before RQ kills the job and counts a failure
    max_retries: int | None = None  # None: one retry per MUTIROES_JOB_RETRY_INTERVALS entry


def job(*, queue: str = DEFAULT, timeout: int = 300, max_retries: int | None = None):
    """Declare a job function's queue, timeout and retries (read when the job is pushed)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(fn):
        fn.job_options = JobOptions(queue=queue, timeout=timeout, max_retries=max_retries)
        return fn

    return decorate


def load(path: str):
    """The object a ``module:name`` path names."""
    module_name, attribute = path.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def resolve(name: str):
    return load(REGISTRY[name])


def options_for(name: str) -> JobOptions:
    return getattr(resolve(name), "job_options", JobOptions())


def describe(name: str, kwargs: dict) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in sorted(kwargs.items()))
    return f"{name}({arguments})"


def run_now(name: str, **kwargs):
    """Run a job in this process, inside the current app context (CLI, tests, the embedded mode)."""
    return resolve(name)(**kwargs)
