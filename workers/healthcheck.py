"""Container healthchecks that prove a role works: ``python -m workers.healthcheck api|worker|scheduler|smtp-sink``.

- api: this replica's ``/readiness/`` answers 200 (database up, not draining);
- worker: an RQ worker of this host is registered and heartbeating (its last heartbeat is recent);
- scheduler: a scheduler of this host is registered with rq-scheduler and alive (its key has no death mark);
- smtp-sink: the SMTP port accepts a connection and greets;
- migrate: a one-shot, healthy while it runs.
Exit status 0 when healthy, 1 otherwise, with one line saying why.

Docker runs this every few seconds in every container, so it stays light: it reads the few settings it needs from
the environment itself instead of importing the application (which costs a second of CPU each time).
"""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import socket
import sys
import urllib.request
from pathlib import Path

from redis import Redis
from redis.sentinel import Sentinel
from rq import Worker

from workers import SCHEDULER_NAME_PREFIX

HEARTBEAT_MAX_AGE = dt.timedelta(seconds=60)


def setting(name: str, default: str | None = None) -> str | None:
    """``MUTIROES_<NAME>``, or the content of the file ``MUTIROES_<NAME>_FILE`` names (as mutiroes.config reads it)."""
    value = os.environ.get(f"MUTIROES_{name}", "").strip()
    if value:
        return value
    path = os.environ.get(f"MUTIROES_{name}_FILE", "").strip()
    return Path(path).read_text().rstrip("\r\n") if path else default


def redis() -> Redis:
    """The Redis master: through the Sentinels when MUTIROES_REDIS_SENTINELS is set, else MUTIROES_REDIS_URL."""
    password = setting("REDIS_PASSWORD")
    sentinels = setting("REDIS_SENTINELS")
    timeouts = {"socket_timeout": 3, "socket_connect_timeout": 3}
    if sentinels:
        addresses = [(host, int(port)) for host, _, port in (s.strip().rpartition(":") for s in sentinels.split(","))]
        sentinel = Sentinel(addresses, sentinel_kwargs={"password": password, **timeouts})
        return sentinel.master_for(setting("REDIS_MASTER_NAME", "mutiroes"), password=password, **timeouts)
    url = setting("REDIS_URL")
    if not url:
        raise RuntimeError("neither MUTIROES_REDIS_SENTINELS nor MUTIROES_REDIS_URL is set")
    return Redis.from_url(url, **({"password": password} if password else {}), **timeouts)


def check_api() -> str:
    port = (setting("BIND") or "127.0.0.1:8000").rpartition(":")[2]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readiness/", timeout=3) as response:
        if response.status != 200:
            raise RuntimeError(f"readiness answered {response.status}")
    return "ready"


def check_worker() -> str:
    host = socket.gethostname()
    now = dt.datetime.now(dt.UTC)
    for worker in Worker.all(connection=redis()):
        beat = worker.last_heartbeat
        if worker.hostname == host and beat is not None:
            beat = beat if beat.tzinfo else beat.replace(tzinfo=dt.UTC)
            if now - beat <= HEARTBEAT_MAX_AGE:
                return f"{worker.name} heartbeat {int((now - beat).total_seconds())} s ago"
    raise RuntimeError(f"no RQ worker of {host} heartbeating in the last {HEARTBEAT_MAX_AGE.seconds} s")


def check_scheduler() -> str:
    connection = redis()
    pattern = f"rq:scheduler_instance:{SCHEDULER_NAME_PREFIX}{socket.gethostname()}-*"
    for key in connection.scan_iter(match=pattern):
        if not connection.hexists(key, "death"):
            return key.decode()
    raise RuntimeError(f"no live scheduler registered as {pattern}")


def check_smtp_sink() -> str:
    with smtplib.SMTP("127.0.0.1", int(os.environ.get("MUTIROES_SINK_PORT", "1025")), timeout=3) as smtp:
        code, _message = smtp.noop()
    if code != 250:
        raise RuntimeError(f"NOOP answered {code}")
    return "greets"


def check_migrate() -> str:
    return "one-shot running"


CHECKS = {
    "api": check_api,
    "worker": check_worker,
    "scheduler": check_scheduler,
    "smtp-sink": check_smtp_sink,
    "migrate": check_migrate,
}


def main(argv: list[str] | None = None) -> int:
    role = (argv if argv is not None else sys.argv[1:] or ["none"])[0]
    if role not in CHECKS:
        print(f"unknown role {role!r}; one of {', '.join(CHECKS)}")
        return 1
    try:
        print(CHECKS[role]())
    except Exception as exc:  # any failure is "unhealthy", said in one line
        print(f"{role} unhealthy: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
