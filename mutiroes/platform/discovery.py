"""Consul registration of one API replica, and its drain before it stops.

One registration per replica, made by the gunicorn master (``gunicorn.conf.py`` calls in here), never by its
workers. The replica serves while Consul is unreachable: a background thread keeps trying, and re-registers whenever
the agent has forgotten it (an agent restart, or Consul's own deregistration after a long critical spell).

Stopping (SIGTERM) is a drain, in this order, so that no request is lost:
1. the drain flag file is created: ``/readiness/`` answers 503 in every worker (``health.is_draining`` reads it);
2. the service is deregistered from Consul;
3. we wait until consul-template has rewritten nginx's upstream without this replica (``MUTIROES_UPSTREAM_FILE``)
   and nginx has reloaded, or for a fixed grace when that file is not visible from here;
4. only then does gunicorn close its listeners and let the workers finish the requests in flight.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import consul
import requests

from mutiroes.config import Config

log = logging.getLogger(__name__)

CHECK_INTERVAL = "5s"
CHECK_TIMEOUT = "2s"
# the replica's own readiness probe before it registers (gunicorn's workers are forking meanwhile)
READY_PROBE_SECONDS = 2.0
DEREGISTER_CRITICAL_AFTER = "1m"
# how often the background thread makes sure the agent still knows this replica
RECONCILE_SECONDS = 10.0
# the fixed drain when the upstream file is not visible (containers: it lives in the gateway): consul-template's
# wait (up to 3 s of quiet; a rolling update's new replica turning healthy restarts it), `nginx -t`, the reload
# and the old nginx workers letting go, on a loaded machine. With 5 s a CI rolling update once answered two POSTs
# 503 (nginx never resends a POST); a replica that stopped accepting before nginx let go is one way that happens
DEFAULT_DRAIN_GRACE_SECONDS = 10.0
# time for nginx's new workers to take over after the upstream file changed
RELOAD_SETTLE_SECONDS = 1.0

_SERVER_LINE = re.compile(r"^\s*server\s+([^\s;]+)", re.MULTILINE)


def advertise_address(settings: Config) -> str:
    """The address Consul and nginx reach this replica on."""
    if settings.advertise_address:
        return settings.advertise_address
    host = settings.bind_host
    if host in ("", "0.0.0.0", "::"):
        return socket.gethostbyname(socket.gethostname())
    return host


def service_id(name: str, address: str, port: int) -> str:
    # address:port is unique among live replicas, and a restarted replica replaces its own stale entry
    return f"{name}-{socket.gethostname()}-{address}-{port}"


def consul_client(http_addr: str, timeout: float = 2.0, token: str | None = None) -> consul.Consul:
    """A client of the agent at ``http_addr``; ``token`` is the ACL token (MUTIROES_CONSUL_TOKEN) where ACLs are on."""
    parts = urlsplit(http_addr if "://" in http_addr else f"http://{http_addr}")
    return consul.Consul(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 8500,
        scheme=parts.scheme or "http",
        token=token or None,
        connections_timeout=timeout,
    )


def upstream_servers(path: str | os.PathLike) -> set[str]:
    """The ``server`` addresses of a rendered upstream file (empty when it is missing)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return set()
    return set(_SERVER_LINE.findall(text))


def mark_draining(path: str | None) -> None:
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(f"{os.getpid()}\n")


def clear_draining(path: str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


class Registration:
    """This replica's entry in Consul: registered in the background, removed by ``drain``."""

    def __init__(self, settings: Config, *, port: int, version: str, address: str | None = None) -> None:
        self.settings = settings
        self.address = address or advertise_address(settings)
        self.port = port
        self.version = version
        self.name = settings.service_name
        self.id = service_id(self.name, self.address, port)
        self.client = (
            consul_client(settings.consul_http_addr, token=settings.consul_token) if settings.consul_http_addr else None
        )
        self.registered = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def readiness_url(self) -> str:
        """What Consul's check asks, and what the replica asks itself before it registers."""
        return f"http://{self.endpoint}/readiness/"

    def definition(self, *, ready: bool = False) -> dict:
        """What the agent is told. ``ready``: this replica's readiness has just answered 200 at the address Consul
        checks, so the check starts passing instead of critical: Consul runs a new check first at a random moment
        within its interval, and a new replica would wait up to that long for traffic it can serve."""
        check = consul.Check.http(
            self.readiness_url,
            interval=CHECK_INTERVAL,
            timeout=CHECK_TIMEOUT,
            deregister=DEREGISTER_CRITICAL_AFTER,
        )
        if ready:
            check["Status"] = "passing"
        return {
            "name": self.name,
            "service_id": self.id,
            "address": self.address,
            "port": self.port,
            "tags": ["api", "http", f"v{self.version}", *self.settings.service_tags],
            "meta": {"version": self.version, "pid": str(os.getpid()), "host": socket.gethostname()},
            "check": check,
        }

    def is_ready(self) -> bool:
        """Whether ``/readiness/`` answers 200 right now, asked the way Consul's check asks it."""
        try:
            return requests.get(self.readiness_url, timeout=READY_PROBE_SECONDS).status_code == 200
        except requests.RequestException:
            return False

    # -- registration ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.client is None:
            log.info("MUTIROES_CONSUL_HTTP_ADDR unset: %s is not registered anywhere", self.endpoint)
            return
        self._thread = threading.Thread(target=self._run, name="consul-registration", daemon=True)
        self._thread.start()

    def ensure_registered(self) -> bool:
        """Register unless the agent already has us; True when the agent knows this replica afterwards."""
        if self._stop.is_set():
            return False
        if self.id in self.client.agent.services():
            self.registered.set()
            return True
        ready = self.is_ready()
        self.client.agent.service.register(**self.definition(ready=ready))
        self.registered.set()
        log.info("registered %s (%s) in Consul, %s", self.id, self.endpoint, "passing" if ready else "not ready yet")
        return True

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.ensure_registered()
            except (consul.ConsulException, requests.RequestException, OSError) as exc:
                self.registered.clear()
                log.warning("Consul unreachable (%s); serving unregistered, retrying in %.1fs", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONCILE_SECONDS)
                continue
            delay = 0.5
            self._stop.wait(RECONCILE_SECONDS)

    # -- shutdown ----------------------------------------------------------------------------------------------
    def deregister(self) -> None:
        if self.client is None:
            return
        for attempt in range(3):
            try:
                self.client.agent.service.deregister(self.id)
                self.registered.clear()
                log.info("deregistered %s from Consul", self.id)
                return
            except (consul.ConsulException, requests.RequestException, OSError) as exc:
                log.warning("deregistration of %s failed (attempt %d): %s", self.id, attempt + 1, exc)
                time.sleep(0.5)

    def wait_until_dropped(self, deadline: float) -> bool:
        """Wait until nginx no longer routes here; False when the deadline came first."""
        upstream_file = self.settings.upstream_file
        if not upstream_file:
            time.sleep(max(0.0, min(DEFAULT_DRAIN_GRACE_SECONDS, deadline - time.monotonic())))
            return True
        while time.monotonic() < deadline:
            if self.endpoint not in upstream_servers(upstream_file):
                time.sleep(RELOAD_SETTLE_SECONDS)
                return True
            time.sleep(0.2)
        log.warning("%s still in %s after the drain timeout; stopping anyway", self.endpoint, upstream_file)
        return False

    def drain(self) -> None:
        """Readiness 503, out of Consul, out of nginx; the caller then stops accepting and finishes in flight."""
        started = time.monotonic()
        deadline = started + self.settings.drain_timeout_seconds
        mark_draining(self.settings.drain_file)
        self._stop.set()
        if self.client is None:
            return
        self.deregister()
        dropped = self.wait_until_dropped(deadline)
        log.info("drained %s in %.1fs (dropped from nginx: %s)", self.id, time.monotonic() - started, dropped)

    def stop(self) -> None:
        """Last resort on exit (SIGINT/SIGQUIT skip the drain): never leave a registration behind."""
        if not self._stop.is_set():
            self._stop.set()
            self.deregister()
