"""Where everything of a local cluster is: the programs on this machine, the files of its state folder, the ports
it took, the URLs they make and the settings every API replica and worker runs with.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cluster.processes import ClusterError

ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = Path(os.environ.get("MUTIROES_TOOLS_BIN", ROOT / ".tools" / "bin"))
PG_BIN = Path(os.environ.get("MUTIROES_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# the gateway's files under nginx/ that every nginx running it copies (the rest it includes is generated)
NGINX_FILES = ("nginx.conf", "security_headers.conf", "server_names.conf")
# in its own venv of Debian's python3 (scripts/install-tools.sh): the unprivileged PostgreSQL user runs it
PATRONI = TOOLS_BIN.parent / "patroni" / "bin" / "patroni"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SERVICE_NAME = "mutiroes-api"
PG_USER = os.environ.get("MUTIROES_CLUSTER_PG_USER", "nobody")
CONSUL_PORT_NAMES = ("consul_dns", "consul_serf_lan", "consul_serf_wan", "consul_server", "consul_grpc")
# the high-availability tier (two Patroni nodes, Redis master + replica + three Sentinels) unless this says 0
HA_DEFAULT = os.environ.get("MUTIROES_CLUSTER_HA", "1") != "0"
PG_NODES = ("pg-1", "pg-2")
REDIS_NODES = ("redis-1", "redis-2")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
PATRONI_SCOPE = "mutiroes"  # the Patroni cluster, its keys in Consul and the service it registers
REDIS_MASTER_NAME = "mutiroes"


# Shorter than production's defaults, so that on one machine a fault heals within seconds (the fault-injection
# tests rely on them; a cluster's extra_env overrides any of them):
# - an open circuit tries its dependency again after 5 s (production: 15 s), so readiness turns green, Consul
#   passes the replicas and nginx routes them again well within 30 s of a database coming back, and the first
#   write after a failover comes within seconds of the new primary;
# - a job failing on SMTP is retried after 2, 4, 8, 15 and 30 s: about a minute of outage is absorbed;
# - the outbox relay of each worker looks for rows Redis could not take every 2 s (production: 10 s).
CLUSTER_DEFAULTS = {
    "MUTIROES_BREAKER_RESET_SECONDS": "5",
    "MUTIROES_JOB_RETRY_INTERVALS": "2,4,8,15,30",
    "MUTIROES_OUTBOX_RELAY_INTERVAL_SECONDS": "2",
}


@dataclass
class State:
    """What must survive between commands: ports, scale and the cluster's secret."""

    ports: dict[str, int]
    api_ports: list[int]
    workers: int
    secret_key: str
    extra_env: dict[str, str] = field(default_factory=dict)
    ha: bool = False
    redis_password: str = ""

    @property
    def backends(self) -> int:
        return len(self.api_ports)

    @property
    def pg_ports(self) -> list[int]:
        return [self.ports[name] for name in PG_NODES] if self.ha else [self.ports["postgres"]]

    @property
    def redis_ports(self) -> list[int]:
        return [self.ports[name] for name in REDIS_NODES] if self.ha else [self.ports["redis"]]


class Layout:
    """A cluster's state folder: its files, its saved :class:`State`, and what its processes are told."""

    def __init__(self, state_dir: str | os.PathLike):
        self.dir = Path(state_dir).resolve()
        self.state_file = self.dir / "cluster.json"

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

    def urls(self, state: State | None = None) -> dict[str, str]:
        state = state or self.load()
        p = state.ports
        # with two nodes, libpq tries each and keeps the one that accepts writes: the primary, wherever it is now
        hosts = "&".join(f"host=127.0.0.1:{port}" for port in state.pg_ports)
        urls = {
            "api": f"http://127.0.0.1:{p['nginx']}",
            "consul": f"http://127.0.0.1:{p['consul_http']}",
            "consul_ui": f"http://127.0.0.1:{p['consul_http']}/ui/",
            "database": f"postgresql+psycopg2://mutiroes@/mutiroes?{hosts}&target_session_attrs=read-write",
            "redis": f"redis://127.0.0.1:{state.redis_ports[0]}/0",
            "smtp": f"127.0.0.1:{p['smtp']}",
            "rq_dashboard": f"http://127.0.0.1:{p['nginx']}/rq/",
        }
        if "prometheus" in p:
            urls["prometheus"] = f"http://127.0.0.1:{p['prometheus']}/"
        return urls

    def app_env(self, state: State) -> dict[str, str]:
        """The MUTIROES_* settings every API replica and worker of this cluster runs with."""
        urls = self.urls(state)
        env = {
            "MUTIROES_DATABASE_URL": urls["database"],
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
        if state.redis_password:
            env["MUTIROES_REDIS_PASSWORD"] = state.redis_password
        if state.ha:
            env["MUTIROES_REDIS_SENTINELS"] = ",".join(f"127.0.0.1:{state.ports[name]}" for name in SENTINELS)
            env["MUTIROES_REDIS_MASTER_NAME"] = REDIS_MASTER_NAME
        else:
            env["MUTIROES_REDIS_URL"] = urls["redis"]
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

    def api_programs(self, state: State) -> list[str]:
        return [f"api-{i + 1}" for i in range(state.backends)]

    def worker_programs(self, state: State) -> list[str]:
        return [f"worker-{i + 1}" for i in range(state.workers)]
