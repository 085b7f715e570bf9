"""The periodic-job scheduler: ``python -m workers.scheduler [--burst]``.

On start it registers ``mutiroes.jobs.schedule.SCHEDULE`` (idempotent: stable ids), then runs rq-scheduler, which moves
due jobs onto the ``periodic`` queue. Several schedulers may run: rq-scheduler's Redis lock lets one of them act per
round, and registration is serialized by a lock of its own. The outbox relay runs here too.
"""

from __future__ import annotations

import argparse
import logging

from mutiroes import create_app
from mutiroes.jobs import schedule
from mutiroes.jobs.outbox import RelayThread, on_master_change
from mutiroes.jobs.worker import process_name
from mutiroes.platform.redis import NOT_CONFIGURED, worker_connection
from workers import SCHEDULER_NAME_PREFIX
from workers.startup import wait_for_database

log = logging.getLogger("workers.scheduler")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mutirões periodic-job scheduler (rq-scheduler).")
    parser.add_argument("--burst", action="store_true", help="register, enqueue what is due once, then exit")
    args = parser.parse_args(argv)
    app = create_app()
    settings = app.config["MUTIROES"]
    if not settings.uses_redis:  # said at once, not after the wait for the database
        raise SystemExit(f"the scheduler needs Redis: {NOT_CONFIGURED}")
    wait_for_database(app, log)
    name = process_name(SCHEDULER_NAME_PREFIX)
    scheduler = schedule.make_scheduler(worker_connection(settings), settings, name=name)
    outcome = schedule.register_when_redis_answers(scheduler)
    log.info("schedule registered: %s", {k: v for k, v in outcome.items() if v})
    # a new Redis master may have lost the schedule with its last writes: registering again is idempotent
    on_master_change(app, lambda: schedule.register(scheduler))
    relay = RelayThread(app)
    relay.start()
    try:
        scheduler.run(burst=args.burst)
    finally:
        relay.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
