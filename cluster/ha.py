"""The high-availability tier of the local cluster: two PostgreSQL nodes run by Patroni with Consul as its store
(synchronous replication: a commit is acknowledged once the standby has it), and Redis as a master, a replica and
three Sentinels. Configuration files, the state as operators read it (leader, lag, master), and the drills that kill
the current primary or master.

Timings: Patroni's leader lock is a Consul session that depends on a 3 s TTL check of that node, which
docker/patroni-node.sh passes every second while the node's Patroni answers: a dead or frozen primary's session is
invalidated within about 3 s and the standby, watching the lock, promotes itself, so a failover takes a few seconds.
Patroni's ``ttl`` (at least 20 s, which Consul doubles) is only the backstop for an agent that stopped running the
check. Sentinels call a master down after 3 s without an answer and promote its replica a moment later.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import time
import urllib.request
from pathlib import Path

import redis as redis_lib

from cluster.layout import (
    PATRONI,
    PG_BIN,
    PG_NODES,
    PG_USER,
    REDIS_MASTER_NAME,
    REDIS_NODES,
    ROOT,
    SENTINELS,
    Layout,
    State,
)
from cluster.processes import ClusterError

# Patroni's cluster-wide settings (ttl, loop_wait, synchronous_mode, PostgreSQL parameters): one file for the
# local cluster and the postgres image
DCS_FILE = Path(__file__).resolve().parent.parent / "docker" / "patroni-dcs.json"
SENTINEL_DOWN_AFTER_MS = 3000
SENTINEL_FAILOVER_TIMEOUT_MS = 10000


def patroni_config(layout: Layout, state: State, node: str) -> dict:
    """The Patroni configuration of one node (written as JSON, which is YAML)."""
    index = PG_NODES.index(node)
    root = layout.dir / "postgres" / node
    rest = state.ports[f"patroni-{index + 1}"]
    port = state.ports[node]
    # local processes on loopback: trust, as the single-node variant does; the containers use passwords
    hba = ["local all all trust", "host replication replicator 127.0.0.1/32 trust", "host all all 127.0.0.1/32 trust"]
    return {
        "scope": "mutiroes",
        "namespace": "/service/",
        "name": node,
        "log": {"level": "INFO"},
        "restapi": {"listen": f"127.0.0.1:{rest}", "connect_address": f"127.0.0.1:{rest}"},
        "consul": {
            "host": f"127.0.0.1:{state.ports['consul_http']}",
            "register_service": True,
            "service_check_interval": "2s",
            # the leader lock lives as long as this node's Patroni answers (a check the agent runs every second),
            # not only until its session TTL runs out: a dead or frozen primary is replaced in seconds
            "checks": [liveness_check_id(node)],
        },
        "bootstrap": {
            "dcs": bootstrap_dcs(),
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
            "pg_hba": hba,
        },
        "postgresql": {
            "listen": f"127.0.0.1:{port}",
            "connect_address": f"127.0.0.1:{port}",
            "data_dir": str(root / "data"),
            "bin_dir": str(PG_BIN),
            "pgpass": str(root / "pgpass"),
            "authentication": {
                "superuser": {"username": "mutiroes", "password": "local-trust"},
                "replication": {"username": "replicator", "password": "local-trust"},
            },
            "parameters": {"unix_socket_directories": str(root / "run")},
            "pg_hba": hba,
            # a new standby copies the primary at once (the default spread checkpoint can take minutes)
            "basebackup": [{"checkpoint": "fast"}],
        },
    }


def bootstrap_dcs() -> dict:
    """docker/patroni-dcs.json, with fsync off: the 2-core machine the local cluster runs on stays fast, and only a
    power loss of the machine itself (which no drill does) could lose a commit the standby had not flushed."""
    dcs = json.loads(DCS_FILE.read_text())
    dcs["postgresql"]["parameters"]["fsync"] = "off"
    return dcs


def liveness_check_id(node: str) -> str:
    return f"patroni-{node}-alive"


# how long a node's liveness check stays passing without being passed again (docker/patroni-node.sh passes it
# every second while the node's Patroni answers)
CHECK_TTL = "3s"
# the check belongs to a service of its own: a critical node-level check would mark every service of the agent's
# node critical, the API replicas registered on the same agent included
LIVENESS_SERVICE = "patroni-liveness"


def liveness_service(state: State, node: str) -> dict:
    """The liveness service of one node with its TTL check, as the agent API takes it (initially passing)."""
    return {
        "ID": f"patroni-{node}",
        "Name": LIVENESS_SERVICE,
        "Check": {
            "CheckID": liveness_check_id(node),
            "Name": f"Patroni {node} answers",
            "TTL": CHECK_TTL,
            "Status": "passing",
        },
    }


def consul_checks(state: State) -> dict:
    """The same services as an agent config file, so that a restarted (in-memory) dev agent has them again.

    Patroni's sessions depend on the checks: Consul invalidates a session the moment its check turns critical,
    where a session TTL alone is at least 20 s for Patroni and Consul doubles it.
    """
    return {
        "services": [
            {
                "id": f"patroni-{node}",
                "name": LIVENESS_SERVICE,
                "checks": [
                    {
                        "id": liveness_check_id(node),
                        "name": f"Patroni {node} answers",
                        "ttl": CHECK_TTL,
                        "status": "passing",
                    }
                ],
            }
            for node in PG_NODES
        ]
    }


NODE_SCRIPT = ROOT / "docker" / "patroni-node.sh"


def reachable_by_pg_user(path: Path) -> bool:
    """Whether PostgreSQL's unprivileged user can reach ``path`` (always, unless the cluster runs as root): every
    folder above it must let others through. A conservative test (group rights are not counted)."""
    if os.geteuid() != 0:
        return True
    return all(parent.stat().st_mode & 0o001 for parent in path.resolve().parents)


def patroni_programs(layout: Layout) -> tuple[Path, Path]:
    """The node script and the Patroni command, where PostgreSQL's user can run them.

    A checkout in a private folder (a root home, ``mktemp -d``) is out of that user's reach, and Patroni would fail
    to start without a word in the cluster's logs: the cluster then runs copies kept in its own state folder (the
    Patroni venv is copied once; its interpreter is a link to Debian's python3, so the copy runs as it is).
    """
    if reachable_by_pg_user(PATRONI) and reachable_by_pg_user(NODE_SCRIPT):
        return NODE_SCRIPT, PATRONI
    if not reachable_by_pg_user(layout.dir / "postgres"):
        raise ClusterError(
            f"{layout.dir} is out of reach of the user PostgreSQL runs as ({PG_USER}): a folder above it does not "
            "let others through; set MUTIROES_CLUSTER_DIR to a folder elsewhere (e.g. under /var/tmp)"
        )
    tools = layout.dir / "tools"
    venv = tools / "patroni"
    if not (venv / "bin" / "python").exists():
        shutil.rmtree(venv, ignore_errors=True)
        shutil.copytree(PATRONI.parent.parent, venv, symlinks=True)
    runner = tools / "run-patroni"
    # the venv's own bin/patroni names the original interpreter's path in its first line
    runner.write_text(f'#!/bin/sh\nexec {venv / "bin" / "python"} -m patroni "$@"\n')
    runner.chmod(0o755)
    script = tools / NODE_SCRIPT.name
    shutil.copyfile(NODE_SCRIPT, script)
    return script, runner


def write_configs(layout: Layout, state: State) -> None:
    """Patroni's files (rewritten each start) and Redis' and the Sentinels' (written once: they keep their role)."""
    owner = pwd.getpwnam(PG_USER) if os.geteuid() == 0 else None
    (layout.dir / "consul-checks.json").write_text(json.dumps(consul_checks(state), indent=2))
    for node in PG_NODES:
        root = layout.dir / "postgres" / node
        (root / "run").mkdir(parents=True, exist_ok=True)
        config = root / "patroni.yml"
        config.write_text(json.dumps(patroni_config(layout, state, node), indent=2))
        check = root / "liveness-check.json"
        check.write_text(json.dumps(liveness_service(state, node)))
        if owner is not None:
            for path in (layout.dir / "postgres", root, root / "run", config, check):
                os.chown(path, owner.pw_uid, owner.pw_gid)
    password = state.redis_password
    first = state.ports[REDIS_NODES[0]]
    for index, node in enumerate(REDIS_NODES):
        folder = layout.dir / node
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "redis.conf"
        if not config.exists():
            lines = [
                f"port {state.ports[node]}",
                "bind 127.0.0.1",
                f"dir {folder}",
                f"requirepass {password}",
                f"masterauth {password}",
                "appendonly yes",
                "appendfsync everysec",
                "save 900 1 300 10 60 10000",
            ]
            if index > 0:
                lines.append(f"replicaof 127.0.0.1 {first}")
            config.write_text("\n".join(lines) + "\n")
    for node in SENTINELS:
        folder = layout.dir / node
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "sentinel.conf"
        if not config.exists():
            config.write_text(
                "\n".join(
                    [
                        f"port {state.ports[node]}",
                        "bind 127.0.0.1",
                        f"dir {folder}",
                        f"requirepass {password}",
                        f"sentinel monitor {REDIS_MASTER_NAME} 127.0.0.1 {first} 2",
                        f"sentinel auth-pass {REDIS_MASTER_NAME} {password}",
                        f"sentinel down-after-milliseconds {REDIS_MASTER_NAME} {SENTINEL_DOWN_AFTER_MS}",
                        f"sentinel failover-timeout {REDIS_MASTER_NAME} {SENTINEL_FAILOVER_TIMEOUT_MS}",
                        f"sentinel parallel-syncs {REDIS_MASTER_NAME} 1",
                    ]
                )
                + "\n"
            )


# -- the state as operators read it ---------------------------------------------------------------------------


def patroni_members(state: State) -> list[dict]:
    """Every PostgreSQL node as Patroni sees it: name, role (leader / sync_standby / replica), state, lag."""
    for index in range(len(PG_NODES)):
        url = f"http://127.0.0.1:{state.ports[f'patroni-{index + 1}']}/cluster"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())["members"]
        except (OSError, ValueError, KeyError):
            continue
    return []


def pg_leader(state: State) -> tuple[str, int] | None:
    """(node, port) of the PostgreSQL primary right now, or None while there is none."""
    for member in patroni_members(state):
        if member.get("role") == "leader" and member.get("state") == "running":
            return member["name"], int(member["port"])
    return None


def redis_master(state: State) -> int | None:
    """The port of the Redis master the Sentinels agree on, or None when none of them answers."""
    for node in SENTINELS:
        client = redis_lib.Redis(
            port=state.ports[node], password=state.redis_password, socket_timeout=1, socket_connect_timeout=1
        )
        try:
            address = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", REDIS_MASTER_NAME)
        except redis_lib.RedisError:
            continue
        finally:
            client.close()
        if address:
            return int(address[1])
    return None


def node_for_port(state: State, names: tuple[str, ...], port: int) -> str:
    for name in names:
        if state.ports[name] == port:
            return name
    raise ClusterError(f"no node of {names} on port {port}")


def describe(state: State) -> dict:
    """What `make status` prints of the HA tier: the PostgreSQL leader, each node's role and lag, the Redis master."""
    members = patroni_members(state)
    master = redis_master(state)
    return {
        "postgres": [
            {key: member.get(key) for key in ("name", "role", "state", "lag", "timeline", "port")} for member in members
        ],
        "postgres_leader": next((m["name"] for m in members if m.get("role") == "leader"), None),
        "redis_master": node_for_port(state, REDIS_NODES, master) if master else None,
    }


def wait_for_leader(state: State, timeout: float) -> tuple[str, int]:
    """Until a PostgreSQL primary runs (a fresh cluster bootstraps one, a failover promotes one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leader = pg_leader(state)
        if leader is not None:
            return leader
        time.sleep(0.5)
    raise ClusterError(f"no PostgreSQL primary after {timeout:.0f}s; see the patroni-N logs")


def pg_data_dirs(layout: Layout) -> list[Path]:
    return [layout.dir / "postgres" / node / "data" for node in PG_NODES]
