"""The local cluster: the distributed topology as real processes on one machine, no Docker.

PostgreSQL, Redis, a Consul dev agent, consul-template, nginx, N API replicas (gunicorn), the RQ workers, the
scheduler and an SMTP sink, each a supervisor program, all state under one folder (``.cluster/`` for
``make cluster``; a temporary one for the end-to-end tests, which drive it through this same class).

rq-dashboard is no program of its own: the API mounts it at ``/rq/`` for staff (mutiroes/web/dashboard.py), so it
is reached through nginx like the rest of the API.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mutiroes.platform.discovery import upstream_servers

ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = Path(os.environ.get("MUTIROES_TOOLS_BIN", ROOT / ".tools" / "bin"))
PG_BIN = Path(os.environ.get("MUTIROES_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SERVICE_NAME = "mutiroes-api"
PG_USER = os.environ.get("MUTIROES_CLUSTER_PG_USER", "nobody")
CONSUL_PORT_NAMES = ("consul_dns", "consul_serf_lan", "consul_serf_wan", "consul_server", "consul_grpc")


# Shorter than production's defaults, so that on one machine a fault heals within seconds (the fault-injection
# tests rely on them; a cluster's extra_env overrides any of them):
# - an open circuit tries its dependency again after 10 s (production: 60 s), so readiness turns green, Consul
#   passes the replicas and nginx routes them again well within 30 s of a database coming back;
# - a job failing on SMTP is retried after 2, 4, 8, 15 and 30 s: about a minute of outage is absorbed;
# - the outbox relay of each worker looks for rows Redis could not take every 2 s (production: 10 s).
CLUSTER_DEFAULTS = {
    "MUTIROES_BREAKER_RESET_SECONDS": "10",
    "MUTIROES_JOB_RETRY_INTERVALS": "2,4,8,15,30",
    "MUTIROES_OUTBOX_RELAY_INTERVAL_SECONDS": "2",
}


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ClusterError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


def _as_pg_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *command] if os.geteuid() == 0 else command


def _quote_env(env: dict[str, str]) -> str:
    """supervisor's environment= syntax: KEY="value" pairs; % is its interpolation character."""
    return ",".join(f'{k}="{str(v).replace("%", "%%")}"' for k, v in sorted(env.items()))


@dataclass
class State:
    """What must survive between commands: ports, scale and the cluster's secret."""

    ports: dict[str, int]
    api_ports: list[int]
    workers: int
    secret_key: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def backends(self) -> int:
        return len(self.api_ports)


class Cluster:
    def __init__(self, state_dir: str | os.PathLike, *, nginx_port: int | None = 8080, consul_port: int | None = 8500):
        self.dir = Path(state_dir).resolve()
        self.nginx_port_wanted = nginx_port
        self.consul_port_wanted = consul_port
        self.state_file = self.dir / "cluster.json"

    # -- paths and state -------------------------------------------------------------------------------------
    @property
    def supervisor_conf(self) -> Path:
        return self.dir / "supervisord.conf"

    @property
    def nginx_prefix(self) -> Path:
        return self.dir / "nginx"

    @property
    def upstream_file(self) -> Path:
        return self.nginx_prefix / "upstream.conf"

    @property
    def access_log(self) -> Path:
        return self.nginx_prefix / "logs" / "access.log"

    @property
    def media_root(self) -> Path:
        return self.dir / "media"

    def load(self) -> State:
        if not self.state_file.exists():
            raise ClusterError(f"no cluster in {self.dir} (start one with `make cluster`)")
        return State(**json.loads(self.state_file.read_text()))

    def save(self, state: State) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.__dict__, indent=2))
        tmp.replace(self.state_file)

    def _new_state(self, backends: int, workers: int, extra_env: dict[str, str]) -> State:
        ports = {}
        for name, wanted in (("nginx", self.nginx_port_wanted), ("consul_http", self.consul_port_wanted)):
            if wanted is None:
                ports[name] = free_port()
            elif port_is_free(wanted):
                ports[name] = wanted
            else:
                raise ClusterError(f"port {wanted} ({name}) is taken; stop what uses it or run `make cluster-down`")
        for name in ("postgres", "redis", "smtp", *CONSUL_PORT_NAMES):
            ports[name] = free_port()
        return State(
            ports=ports,
            api_ports=[free_port() for _ in range(backends)],
            workers=workers,
            secret_key=secrets.token_urlsafe(48),
            extra_env=extra_env,
        )

    # -- URLs ------------------------------------------------------------------------------------------------
    def urls(self, state: State | None = None) -> dict[str, str]:
        state = state or self.load()
        p = state.ports
        return {
            "api": f"http://127.0.0.1:{p['nginx']}",
            "consul": f"http://127.0.0.1:{p['consul_http']}",
            "consul_ui": f"http://127.0.0.1:{p['consul_http']}/ui/",
            "database": f"postgresql+psycopg2://mutiroes@127.0.0.1:{p['postgres']}/mutiroes",
            "redis": f"redis://127.0.0.1:{p['redis']}/0",
            "smtp": f"127.0.0.1:{p['smtp']}",
            "rq_dashboard": f"http://127.0.0.1:{p['nginx']}/rq/",
        }

    def app_env(self, state: State) -> dict[str, str]:
        """The MUTIROES_* settings every API replica and worker of this cluster runs with."""
        urls = self.urls(state)
        env = {
            "MUTIROES_DATABASE_URL": urls["database"],
            "MUTIROES_REDIS_URL": urls["redis"],
            "MUTIROES_SECRET_KEY": state.secret_key,
            "MUTIROES_CONSUL_HTTP_ADDR": f"127.0.0.1:{state.ports['consul_http']}",
            "MUTIROES_SERVICE_NAME": SERVICE_NAME,
            "MUTIROES_TRUSTED_PROXIES": "1",
            "MUTIROES_MEDIA_ROOT": str(self.media_root),
            "MUTIROES_UPSTREAM_FILE": str(self.upstream_file),
            "MUTIROES_INSTANCE_PATH": str(self.dir / "instance"),
            "MUTIROES_SMTP_HOST": "127.0.0.1",
            "MUTIROES_SMTP_PORT": str(state.ports["smtp"]),
            **CLUSTER_DEFAULTS,
        }
        env.update(state.extra_env)
        return env

    def replica_env(self, state: State, index: int) -> dict[str, str]:
        env = self.app_env(state)
        env["MUTIROES_BIND"] = f"127.0.0.1:{state.api_ports[index]}"
        env["MUTIROES_DRAIN_FILE"] = str(self.dir / "run" / f"api-{index + 1}.draining")
        # one folder per replica, emptied by gunicorn.conf.py at each start, deleted with the cluster (a replica
        # killed with -9 leaves no temporary folder behind)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.dir / "metrics" / f"api-{index + 1}")
        return env

    # -- generated configuration -----------------------------------------------------------------------------
    def api_programs(self, state: State) -> list[str]:
        return [f"api-{i + 1}" for i in range(state.backends)]

    def worker_programs(self, state: State) -> list[str]:
        return [f"worker-{i + 1}" for i in range(state.workers)]

    def _program(self, name: str, command: str, *, priority: int, env: dict | None = None, **options) -> str:
        lines = [
            f"[program:{name}]",
            f"command={command}",
            f"directory={ROOT}",
            f"priority={priority}",
            "autostart=false",
            "redirect_stderr=true",
            f"stdout_logfile={self.dir / 'logs' / (name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=2",
        ]
        if env:
            lines.append(f"environment={_quote_env(env)}")
        lines += [f"{key}={value}" for key, value in options.items()]
        return "\n".join(lines) + "\n"

    def supervisor_config(self, state: State) -> str:
        p = state.ports
        python = sys.executable
        run = self.dir / "run"
        sections = [
            f"""[unix_http_server]
file={run / "supervisor.sock"}
chmod=0700

[supervisord]
logfile={self.dir / "logs" / "supervisord.log"}
pidfile={run / "supervisord.pid"}
childlogdir={self.dir / "logs"}
identifier=mutiroes-cluster
{"user=root" if os.geteuid() == 0 else ""}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{run / "supervisor.sock"}
"""
        ]
        pg_options = {"user": PG_USER} if os.geteuid() == 0 else {}
        sections.append(
            self._program(
                "postgres",
                f"{PG_BIN / 'postgres'} -D {self.dir / 'postgres' / 'data'} -p {p['postgres']} "
                "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200 "
                "-c shared_buffers=128MB -c fsync=off -c synchronous_commit=off",
                priority=10,
                stopsignal="INT",
                stopwaitsecs=30,
                autorestart="true",
                **pg_options,
            )
        )
        sections.append(
            self._program(
                "redis",
                f"redis-server --port {p['redis']} --bind 127.0.0.1 --dir {self.dir / 'redis'} "
                '--appendonly yes --appendfsync everysec --save "900 1 300 10 60 10000"',
                priority=10,
                autorestart="true",
            )
        )
        consul_ports = " ".join(
            f"-{flag}={p[name]}"
            for flag, name in (
                ("dns-port", "consul_dns"),
                ("serf-lan-port", "consul_serf_lan"),
                ("serf-wan-port", "consul_serf_wan"),
                ("server-port", "consul_server"),
                ("grpc-port", "consul_grpc"),
            )
        )
        sections.append(
            self._program(
                "consul",
                f"{TOOLS_BIN / 'consul'} agent -dev -node=mutiroes-local -config-file={ROOT / 'consul' / 'dev.hcl'} "
                f"-http-port={p['consul_http']} {consul_ports}",
                priority=10,
                autorestart="true",
                stopsignal="INT",
            )
        )
        sections.append(
            self._program(
                "nginx",
                f'{NGINX} -p {self.nginx_prefix}/ -c {self.nginx_prefix / "nginx.conf"} -g "daemon off;"',
                priority=20,
                autorestart="true",
                stopsignal="QUIT",
            )
        )
        sections.append(
            self._program(
                "consul-template",
                f"{TOOLS_BIN / 'consul-template'} -config={self.dir / 'consul-template.hcl'}",
                priority=30,
                env={"MUTIROES_SERVICE_NAME": SERVICE_NAME},
                autorestart="true",
                stopsignal="INT",
            )
        )
        for index, name in enumerate(self.api_programs(state)):
            sections.append(
                self._program(
                    name,
                    f"{python} -m gunicorn -c {ROOT / 'gunicorn.conf.py'} wsgi:app",
                    priority=40,
                    env=self.replica_env(state, index),
                    # a crashed replica stays down and visible (cluster-status) instead of flapping; Consul takes
                    # it out of nginx; `make restart-backends` or supervisorctl start brings it back
                    autorestart="false",
                    startsecs=2,
                    stopsignal="TERM",
                    # drain (<= 20 s) then in-flight requests (<= 30 s); only the master gets TERM, so the workers
                    # keep serving while it drains
                    stopwaitsecs=60,
                    stopasgroup="false",
                    killasgroup="true",
                )
            )
        app_env = self.app_env(state)
        for name in self.worker_programs(state):
            sections.append(
                self._program(
                    name,
                    f"{python} -m workers.worker",
                    priority=50,
                    env=app_env,
                    autorestart="true",
                    stopsignal="TERM",
                    stopwaitsecs=30,
                    killasgroup="true",
                )
            )
        sections.append(
            self._program("scheduler", f"{python} -m workers.scheduler", priority=50, env=app_env, autorestart="true")
        )
        sections.append(
            self._program(
                "smtp-sink",
                f"{python} -m workers.smtp_sink --host 127.0.0.1 --port {p['smtp']} --dir {self.dir / 'mail'}",
                priority=10,
                autorestart="true",
            )
        )
        return "\n".join(sections)

    def write_configs(self, state: State) -> None:
        for sub in ("logs", "run", "redis", "media", "mail", "instance", "nginx/logs", "nginx/run", "nginx/tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for name in ("nginx.conf", "security_headers.conf"):
            shutil.copyfile(ROOT / "nginx" / name, self.nginx_prefix / name)
        (self.nginx_prefix / "listen.conf").write_text(f"listen 127.0.0.1:{state.ports['nginx']};\n")
        media_link = self.nginx_prefix / "media"
        if not media_link.is_symlink():
            media_link.symlink_to(self.media_root)
        if not self.upstream_file.exists():
            # before consul-template's first render: the same "no replica" fallback it renders itself
            self.upstream_file.write_text(
                "upstream mutiroes_api {\n    zone mutiroes_api 64k;\n    server 127.0.0.1:9 down;\n}\n"
            )
        template = string.Template((ROOT / "consul" / "consul-template.hcl").read_text())
        (self.dir / "consul-template.hcl").write_text(
            template.substitute(
                CONSUL_HTTP_ADDR=f"127.0.0.1:{state.ports['consul_http']}",
                TEMPLATE_DIR=str(ROOT / "consul"),
                NGINX_PREFIX=str(self.nginx_prefix),
                NGINX=NGINX,
            )
        )
        self.supervisor_conf.write_text(self.supervisor_config(state))

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

    # -- PostgreSQL ------------------------------------------------------------------------------------------
    def _init_postgres(self) -> bool:
        root = self.dir / "postgres"
        if (root / "data" / "PG_VERSION").exists():
            return False
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(PG_USER)
            os.chown(root, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            _as_pg_user(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(root / "data"),
                    "-U",
                    "mutiroes",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        return True

    def _create_database(self, state: State) -> None:
        port = str(state.ports["postgres"])
        deadline = time.monotonic() + 30
        while subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", port], capture_output=True
        ).returncode:
            if time.monotonic() > deadline:
                raise ClusterError("PostgreSQL did not become ready")
            time.sleep(0.2)
        exists = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                port,
                "-U",
                "mutiroes",
                "-d",
                "postgres",
                "-tAc",
                "SELECT 1 FROM pg_database WHERE datname = 'mutiroes'",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not exists:
            subprocess.run(
                [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "mutiroes", "mutiroes"],
                check=True,
                capture_output=True,
            )

    def flask(
        self, *args: str, state: State | None = None, check: bool = True, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run a Flask CLI command (db upgrade, seed, createsuperuser...) against this cluster."""
        state = state or self.load()
        env = {**os.environ, **self.app_env(state), "FLASK_APP": "wsgi"}
        return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=check, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def up(self, *, backends: int = 3, workers: int = 2, extra_env: dict[str, str] | None = None, timeout=120) -> State:
        """Start everything (or whatever is stopped) and wait until every replica is healthy behind nginx."""
        for tool in ("consul", "consul-template"):
            if not (TOOLS_BIN / tool).exists():
                raise ClusterError(f"{TOOLS_BIN / tool} is missing: run scripts/install-tools.sh")
        if self.state_file.exists():
            state = self.load()
        else:
            state = self._new_state(backends, workers, extra_env or {})
            self.save(state)
        self.write_configs(state)
        self._init_postgres()
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
        self.supervisorctl("start", "postgres", "redis", "consul", "smtp-sink", check=False)
        wait_for_port(state.ports["redis"])
        wait_for_port(state.ports["consul_http"])
        self._create_database(state)
        self.flask("db", "upgrade", state=state, capture_output=True)
        self.supervisorctl("start", "nginx", "consul-template", check=False)
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

    # -- operations ------------------------------------------------------------------------------------------
    def _apply(self, state: State) -> None:
        self.save(state)
        self.write_configs(state)
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

    def status(self) -> dict:
        state = self.load()
        info: dict = {"processes": self.processes(), "urls": self.urls(state)}
        try:
            info["consul"] = self.consul_instances(state)
        except OSError as exc:
            info["consul"] = f"unreachable: {exc}"
        info["nginx_upstream"] = sorted(self.upstream())
        return info
