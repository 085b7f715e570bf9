"""Background jobs: request one (an outbox row, sent after commit), declare one, run one.

Domains use ``jobs.request(name, **ids)`` inside a unit of work and declare their job functions with ``@jobs.job``.
"""

from mutiroes.jobs.dispatch import request, request_at
from mutiroes.jobs.registry import DEFAULT, EMAILS, PERIODIC, QUEUES, REGISTRY, JobOptions, job, run_now
from mutiroes.jobs.runner import execute

__all__ = [
    "DEFAULT",
    "EMAILS",
    "PERIODIC",
    "QUEUES",
    "REGISTRY",
    "JobOptions",
    "execute",
    "job",
    "request",
    "request_at",
    "run_now",
]
