"""The periodic-job scheduler: ``python -m workers.scheduler [--burst]``.

On start it registers ``workers.schedule.SCHEDULE`` (idempotent: stable ids), then runs rq-scheduler, which moves
due jobs onto the ``periodic`` queue. Several schedulers may run: rq-scheduler's Redis lock lets one of them act per
round, and registration is serialized by a lock of its own. The outbox relay runs here too.
"""

from __future__ import annotations

import argparse
import logging
import time

import redis as redis_lib

from mutiroes import create_app
from mutiroes.outbox import RelayThread
from workers import schedule
from workers.worker import redis_for_workers

log = logging.getLogger("workers.scheduler")


def register_when_redis_answers(scheduler, *, attempts: int | None = None) -> dict:
    delay, tried = 1.0, 0
    while True:
        try:
            return schedule.register(scheduler)
        except redis_lib.exceptions.ConnectionError as exc:
            tried += 1
            if attempts is not None and tried >= attempts:
                raise
            log.warning("Redis unreachable (%s); registering the schedule again in %.0fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mutirões periodic-job scheduler (rq-scheduler).")
    parser.add_argument("--burst", action="store_true", help="register, enqueue what is due once, then exit")
    args = parser.parse_args(argv)
    app = create_app()
    settings = app.config["MUTIROES"]
    if settings.redis_url is None:
        raise SystemExit("MUTIROES_REDIS_URL is not set: the scheduler needs Redis")
    scheduler = schedule.make_scheduler(redis_for_workers(settings.redis_url), settings)
    outcome = register_when_redis_answers(scheduler)
    log.info("schedule registered: %s", {k: v for k, v in outcome.items() if v})
    relay = RelayThread(app)
    relay.start()
    try:
        scheduler.run(burst=args.burst)
    finally:
        relay.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
