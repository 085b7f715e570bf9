"""The RQ worker: ``python -m workers.worker [--burst] [--queues emails,default,periodic]``.

The worker itself is ``mutiroes.jobs.worker``: it runs jobs one at a time, the outbox relay every
``MUTIROES_OUTBOX_RELAY_INTERVAL_SECONDS`` and RQ's scheduler for retry back-off.
"""

from __future__ import annotations

import argparse
import logging

from mutiroes import create_app
from mutiroes.jobs import QUEUES
from mutiroes.jobs.worker import build_worker
from workers.startup import wait_for_database

log = logging.getLogger("workers.worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mutirões RQ worker (queues emails, default, periodic).")
    parser.add_argument("--burst", action="store_true", help="work until the queues are empty, then exit")
    parser.add_argument("--queues", default=",".join(QUEUES), help="comma-separated, in priority order")
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    app = create_app()
    wait_for_database(app, log)
    worker = build_worker(app, [q.strip() for q in args.queues.split(",") if q.strip()], name=args.name)
    log.info("worker %s on %s", worker.name, ", ".join(worker.queue_names()))
    # create_app put the process's log handler on the root logger: RQ then installs no handler of its own (its
    # format arguments go unused) and only sets the level of its loggers, so its lines come out like ours
    worker.work(burst=args.burst, with_scheduler=True, logging_level=app.config["MUTIROES"].log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
