"""gunicorn settings of one API replica: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Everything comes from ``MUTIROES_*`` settings (docs/configuration.md). The master registers the replica in Consul
once it listens and drains it on SIGTERM (mutiroes.platform.discovery); the application is loaded once in the master
(``preload_app``), so each worker drops the database and Redis connections it inherited right after the fork.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile

# Request metrics of every worker of this replica add up on /metrics through prometheus_client's multiprocess
# mode. Its folder must be set before prometheus_client is first imported (it picks its value class then), and it
# must start empty: files left by an earlier run would count that run's requests again. So each start of a replica
# gets a fresh folder of its own, removed when the master exits; an operator-given PROMETHEUS_MULTIPROC_DIR (one per
# replica, e.g. a tmpfs in a container) is emptied instead.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_dir, _own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"], False
    os.makedirs(_metrics_dir, exist_ok=True)
    for _stale in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(_stale)
else:
    _metrics_dir, _own_metrics_dir = tempfile.mkdtemp(prefix="mutiroes-metrics-"), True
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

# the metrics folder above must be in place before the app's modules are first imported
from flask import Flask
from prometheus_client import multiprocess

from mutiroes.config import Config
from mutiroes.models import db
from mutiroes.platform import discovery, logs
from mutiroes.platform.redis import redis
from mutiroes.version import __version__
from workers import startup

# The app (loaded after this file) and the forked workers read these variables.
settings = Config.from_env()
# Each sync worker serves one request at a time: a pool of threads + 1 and one overflow connection is plenty, and
# keeps 3 replicas x 4 workers x 2-3 connections (24-36) far below PostgreSQL's max_connections (100 by default).
os.environ.setdefault("MUTIROES_DB_POOL_SIZE", str(settings.gunicorn_threads + 1))
os.environ.setdefault("MUTIROES_DB_MAX_OVERFLOW", "1")
# A request must answer even when the database server hangs (frozen, not dead): a connect and one answer give up
# within about 2 s together, and then the breaker answers 503 at once until a primary answers again.
os.environ.setdefault("MUTIROES_DB_CONNECT_TIMEOUT", "1")
os.environ.setdefault("MUTIROES_DB_STATEMENT_TIMEOUT_MS", "900")
# ...and all of a request's waits together (a failed pre-ping, the reconnect, a retry) stay under nginx's patience
os.environ.setdefault("MUTIROES_DB_REQUEST_BUDGET_MS", "1500")
if not settings.drain_file:
    # workers see the drain flag through this file
    os.environ["MUTIROES_DRAIN_FILE"] = os.path.join(tempfile.gettempdir(), f"mutiroes-{settings.bind_port}.draining")
settings = Config.from_env()

bind = [settings.bind]
workers = settings.gunicorn_workers
worker_class = settings.gunicorn_worker_class
threads = settings.gunicorn_threads
timeout = settings.gunicorn_timeout
# in-flight requests get this long after the drain before the workers are killed
graceful_timeout = 30
# longer than nginx's upstream keepalive_timeout, so nginx never reuses a connection gunicorn is closing
keepalive = 75
preload_app = True
backlog = 2048
proc_name = f"{settings.service_name}-{settings.bind_port}"
# gunicorn >= 24's control socket lives at one path per user; replicas on one host would fight over it
control_socket_disable = True
accesslog = None  # the app writes one access line per request itself (route, user, request id); nginx keeps its own
errorlog = "-"
loglevel = settings.log_level.lower()
# gunicorn's own lines (workers booting, timeouts) in the app's format, on the same stream
logconfig_dict = logs.gunicorn_logconfig(settings)

_registration = None


def on_starting(server):
    """Before listening: the database at the migrations' head, when ``MUTIROES_WAIT_SECONDS`` asks for it (the app
    image does), checked with the app this master has already loaded."""
    discovery.clear_draining(settings.drain_file)
    app = server.app.wsgi()
    if isinstance(app, Flask):  # the benchmark's bare WSGI floor runs on these same settings
        startup.wait_for_database(app, server.log)


def when_ready(server):
    """Listening: register in Consul (in the background) and turn SIGTERM into drain-then-stop."""
    global _registration
    port = server.LISTENERS[0].sock.getsockname()[1] if server.LISTENERS else settings.bind_port
    _registration = discovery.Registration(settings, port=port, version=__version__)
    _registration.start()

    graceful_stop = server.handle_term

    def drain_then_stop():
        server.log.info("SIGTERM: draining %s before stopping", _registration.endpoint)
        _registration.drain()
        graceful_stop()

    # gunicorn dispatches signals to handle_<name>; the master's own loop runs this, the workers keep serving
    server.handle_term = drain_then_stop


def post_fork(server, worker):
    """Connections opened before the fork belong to the master: each worker opens its own."""
    app = server.app.wsgi()
    if not isinstance(app, Flask):  # the benchmark's bare WSGI floor runs on these same settings
        return
    with app.app_context():
        db.engine.dispose(close=False)
    redis.reset_after_fork(app)


def child_exit(server, worker):
    """A dead worker's live gauges must not be reported any more (its counters stay in the sum)."""
    multiprocess.mark_process_dead(worker.pid, _metrics_dir)


def on_exit(server):
    if _registration is not None:
        _registration.stop()
    discovery.clear_draining(settings.drain_file)
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
