"""Entry points of the background processes: the RQ worker, the scheduler, the development SMTP sink, and the
containers' healthchecks."""

# schedulers register with rq-scheduler as <prefix><host>-<pid>-<random> (mutiroes.jobs.worker.process_name), so a
# container's healthcheck finds its own
SCHEDULER_NAME_PREFIX = "mutiroes-"
