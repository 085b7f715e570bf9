"""The Cluster: its lifecycle (up, down) through supervisor, the routing as Consul and nginx see it, and its
operations (scale, rolling restart, restart of the Consul agent, status).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from cluster import ha
from cluster.drills import Drills
from cluster.layout import (
    CONSUL_PORT_NAMES,
    HA_DEFAULT,
    PG_NODES,
    REDIS_NODES,
    ROOT,
    SENTINELS,
    SERVICE_NAME,
    TOOLS_BIN,
    Layout,
    State,
)
from cluster.postgres import create_database, init_postgres
from cluster.processes import ClusterError, free_port, port_is_free, wait_for_port
from cluster.supervisor import PATRONI_PROGRAMS, write_configs
from mutiroes.platform.discovery import upstream_servers


class Cluster(Drills, Layout):
    """One local cluster, driven through supervisor: started, observed (Consul, nginx), scaled and stopped."""

    def __init__(self, state_dir: str | os.PathLike, *, nginx_port: int | None = 8080, consul_port: int | None = 8500):
        super().__init__(state_dir)
        self.nginx_port_wanted = nginx_port
        self.consul_port_wanted = consul_port

    # -- state -----------------------------------------------------------------------------------------------
    def _new_state(self, backends: int, workers: int, extra_env: dict[str, str], high_availability: bool) -> State:
        ports = {}
        for name, wanted in (("nginx", self.nginx_port_wanted), ("consul_http", self.consul_port_wanted)):
            if wanted is None:
                ports[name] = free_port()
            elif port_is_free(wanted):
                ports[name] = wanted
            else:
                raise ClusterError(f"port {wanted} ({name}) is taken; stop what uses it or run `make cluster-down`")
        names = ["smtp", "prometheus", *CONSUL_PORT_NAMES]
        if high_availability:
            names += [*PG_NODES, *PATRONI_PROGRAMS, *REDIS_NODES, *SENTINELS]
        else:
            names += ["postgres", "redis"]
        for name in names:
            ports[name] = free_port()
        return State(
            ports=ports,
            api_ports=[free_port() for _ in range(backends)],
            workers=workers,
            secret_key=secrets.token_urlsafe(48),
            extra_env=extra_env,
            ha=high_availability,
            redis_password=secrets.token_urlsafe(24),
        )

    def database_programs(self, state: State | None = None) -> list[str]:
        """Every program of PostgreSQL: both Patroni nodes (HA) or the one server."""
        state = state or self.load()
        return list(PATRONI_PROGRAMS) if state.ha else ["postgres"]

    def redis_programs(self, state: State | None = None) -> list[str]:
        """Every Redis server (not the Sentinels): the master and its replica (HA) or the one server."""
        state = state or self.load()
        return list(REDIS_NODES) if state.ha else ["redis"]

    def infrastructure(self, state: State) -> list[str]:
        """The programs of the data tier: Patroni nodes, Redis nodes and Sentinels (HA) or one of each."""
        if state.ha:
            return [*PATRONI_PROGRAMS, *REDIS_NODES, *SENTINELS]
        return ["postgres", "redis"]

    # -- supervisor ------------------------------------------------------------------------------------------
    def supervisorctl(self, *args: str, check: bool = True, timeout: float = 180) -> str:
        result = subprocess.run(
            ["supervisorctl", "-c", str(self.supervisor_conf), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = (result.stdout + result.stderr).strip()
        if check and result.returncode != 0:
            raise ClusterError(f"supervisorctl {' '.join(args)}: {output}")
        return output

    def supervisord_pid(self) -> int | None:
        pid_file = self.dir / "run" / "supervisord.pid"
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid

    def is_running(self) -> bool:
        return self.supervisord_pid() is not None

    def program_pid(self, name: str) -> int:
        pid = int(self.supervisorctl("pid", name).strip() or 0)
        if pid <= 0:
            raise ClusterError(f"{name} is not running")
        return pid

    def processes(self) -> dict[str, str]:
        states = {}
        for line in self.supervisorctl("status", check=False).splitlines():
            parts = line.split()
            if len(parts) >= 2:
                states[parts[0]] = parts[1]
        return states

    # -- commands --------------------------------------------------------------------------------------------
    def flask(
        self, *args: str, state: State | None = None, check: bool = True, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run a Flask CLI command (db upgrade, seed, createsuperuser...) against this cluster."""
        state = state or self.load()
        env = {**os.environ, **self.app_env(state), "FLASK_APP": "wsgi"}
        return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=check, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def up(
        self,
        *,
        backends: int = 3,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
        timeout=120,
        high_availability: bool = HA_DEFAULT,
    ) -> State:
        """Start everything (or whatever is stopped) and wait until every replica is healthy behind nginx."""
        for tool in ("consul", "consul-template"):
            if not (TOOLS_BIN / tool).exists():
                raise ClusterError(f"{TOOLS_BIN / tool} is missing: run scripts/install-tools.sh")
        if self.state_file.exists():
            state = self.load()
        else:
            state = self._new_state(backends, workers, extra_env or {}, high_availability)
            self.save(state)
        write_configs(self, state)
        if not state.ha:
            init_postgres(self.dir / "postgres")
        if not self.is_running():
            subprocess.run(["supervisord", "-c", str(self.supervisor_conf)], check=True, cwd=self.dir)
            deadline = time.monotonic() + 15
            while not (self.dir / "run" / "supervisor.sock").exists() or not self.is_running():
                if time.monotonic() > deadline:
                    raise ClusterError("supervisord did not start; see " + str(self.dir / "logs"))
                time.sleep(0.1)
        else:
            self.supervisorctl("reread")
            self.supervisorctl("update")
        # Consul first: Patroni keeps its leader lock there
        self.supervisorctl("start", "consul", "smtp-sink", check=False)
        wait_for_port(state.ports["consul_http"])
        self.supervisorctl("start", *self.infrastructure(state), check=False)
        for port in state.redis_ports + [state.ports[name] for name in SENTINELS if state.ha]:
            wait_for_port(port)
        if state.ha:
            try:
                _leader, primary_port = ha.wait_for_leader(state, timeout=90)
            except ClusterError as exc:
                raise ClusterError(f"{exc}\n{self._log_tails(PATRONI_PROGRAMS)}") from None
            create_database(primary_port)
        else:
            create_database(state.ports["postgres"])
        self.flask("db", "upgrade", state=state, capture_output=True)
        self.supervisorctl("start", "nginx", "consul-template", "prometheus", check=False)
        wait_for_port(state.ports["nginx"])
        self.supervisorctl("start", *self.api_programs(state), *self.worker_programs(state), "scheduler", check=False)
        self.wait_until_routed(state, timeout=timeout)
        return state

    def down(self, *, purge: bool = False) -> None:
        """Stop every process (replicas drain in parallel first); ``purge`` also deletes the state folder."""
        if self.is_running():
            state = self.load()
            pid = self.supervisord_pid()
            self.supervisorctl("signal", "TERM", *self.api_programs(state), check=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = self.processes()
                if all(states.get(name) != "RUNNING" for name in self.api_programs(state)):
                    break
                time.sleep(0.3)
            self.supervisorctl("shutdown", check=False)
            deadline = time.monotonic() + 60
            while pid and time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            else:
                if pid:
                    os.kill(pid, signal.SIGKILL)
        if purge:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- discovery as seen from outside ----------------------------------------------------------------------
    def consul_get(self, path: str, state: State | None = None):
        state = state or self.load()
        url = f"http://127.0.0.1:{state.ports['consul_http']}{path}"
        with urllib.request.urlopen(url, timeout=3) as response:
            return json.loads(response.read())

    def consul_instances(self, state: State | None = None) -> dict[str, str]:
        """address:port → aggregated check status of every registered API instance."""
        instances = {}
        for entry in self.consul_get(f"/v1/health/service/{SERVICE_NAME}", state):
            service = entry["Service"]
            statuses = {check["Status"] for check in entry["Checks"]}
            status = "passing" if statuses == {"passing"} else ("critical" if "critical" in statuses else "warning")
            instances[f"{service['Address']}:{service['Port']}"] = status
        return instances

    def consul_passing(self, state: State | None = None) -> set[str]:
        return {addr for addr, status in self.consul_instances(state).items() if status == "passing"}

    def upstream(self) -> set[str]:
        text = self.upstream_file.read_text() if self.upstream_file.exists() else ""
        return {s for s in upstream_servers(self.upstream_file) if f"server {s} down" not in text}

    def endpoints(self, state: State) -> set[str]:
        return {f"127.0.0.1:{port}" for port in state.api_ports}

    def wait_until_routed(self, state: State, *, timeout: float = 60, expected: set[str] | None = None) -> None:
        """Until Consul's passing set and nginx's upstream both equal the expected replicas."""
        expected = self.endpoints(state) if expected is None else expected
        deadline = time.monotonic() + timeout
        passing, routed = set(), set()
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                passing = self.consul_passing(state)
                routed = self.upstream()
                if passing == expected and routed == expected:
                    return
            time.sleep(0.25)
        raise ClusterError(
            f"replicas not routed after {timeout:.0f}s: expected {sorted(expected)}, consul passing "
            f"{sorted(passing)}, nginx upstream {sorted(routed)}; see {self.dir / 'logs'}"
        )

    def _log_tails(self, programs, lines: int = 15) -> str:
        """The last lines of some programs' logs: what a failed start says in CI, where the folder is gone after."""
        tails = []
        for name in programs:
            log = self.dir / "logs" / f"{name}.log"
            text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else ["(no log)"]
            tails.append(f"--- {log}\n" + "\n".join(text))
        return "\n".join(tails)

    # -- operations ------------------------------------------------------------------------------------------
    def _apply(self, state: State) -> None:
        self.save(state)
        write_configs(self, state)
        self.supervisorctl("reread")
        self.supervisorctl("update")

    def scale_backends(self, n: int, *, timeout: float = 60) -> State:
        if n < 1:
            raise ClusterError("at least one API replica")
        state = self.load()
        current = state.backends
        if n > current:
            state.api_ports += [free_port() for _ in range(n - current)]
            self._apply(state)
            self.supervisorctl("start", *[f"api-{i + 1}" for i in range(current, n)], check=False)
        elif n < current:
            # stopped first (each drains out of nginx), then removed from supervisor's configuration
            for i in range(current, n, -1):
                self.supervisorctl("stop", f"api-{i}", check=False)
            state.api_ports = state.api_ports[:n]
            self._apply(state)
        self.wait_until_routed(state, timeout=timeout)
        return state

    def scale_workers(self, n: int) -> State:
        if n < 0:
            raise ClusterError("the number of workers cannot be negative")
        state = self.load()
        current = state.workers
        if n < current:
            for i in range(current, n, -1):
                self.supervisorctl("stop", f"worker-{i}", check=False)
        state.workers = n
        self._apply(state)
        names = self.worker_programs(state)
        if names:
            self.supervisorctl("start", *names, check=False)
        return state

    def restart_backends(self, *, timeout: float = 60) -> None:
        """Rolling: one replica at a time drains, restarts and is back in nginx before the next one goes."""
        state = self.load()
        for index, name in enumerate(self.api_programs(state)):
            self.supervisorctl("stop", name, check=False)
            self.supervisorctl("start", name)
            endpoint = f"127.0.0.1:{state.api_ports[index]}"
            self.wait_until_routed(state, timeout=timeout, expected=self.endpoints(state))
            if endpoint not in self.upstream():
                raise ClusterError(f"{name} did not come back")

    def restart_consul(self, *, timeout: float = 30) -> None:
        """Restart the dev agent, then consul-template once the replicas are passing in it again.

        A dev agent keeps no state: it comes back with an empty catalog and a low index. consul-template's blocking
        queries (still on the old, higher index) would wait out their 60 s before seeing it, so it is restarted too;
        but only after every replica has registered again and passed its check, or it would render the empty
        catalog and nginx would answer 503 until they had. Meanwhile nginx keeps its last upstream.
        """
        state = self.load()
        self.supervisorctl("restart", "consul")
        wait_for_port(state.ports["consul_http"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                if self.consul_passing(state) >= self.endpoints(state):
                    break
            time.sleep(0.25)
        self.supervisorctl("restart", "consul-template")

    def primary_port(self, state: State | None = None) -> int:
        """The port of the PostgreSQL that accepts writes now (the Patroni leader, or the only one)."""
        state = state or self.load()
        if not state.ha:
            return state.ports["postgres"]
        return ha.wait_for_leader(state, timeout=30)[1]

    def status(self) -> dict:
        state = self.load()
        info: dict = {"processes": self.processes(), "urls": self.urls(state)}
        if state.ha:
            info["high_availability"] = ha.describe(state)
        try:
            info["consul"] = self.consul_instances(state)
        except OSError as exc:
            info["consul"] = f"unreachable: {exc}"
        info["nginx_upstream"] = sorted(self.upstream())
        return info
