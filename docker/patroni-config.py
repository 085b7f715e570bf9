"""Write the Patroni configuration of one PostgreSQL node of the postgres image (the ``patroni`` command of
docker/postgres-entrypoint.sh), from the environment:

  PATRONI_NAME                   this node's name, which is also its host name on the network (pg-1, pg-2)
  PATRONI_SCOPE                  the cluster's name in Consul (default mutiroes: service/mutiroes/ keys, `mutiroes`
                                 service with a primary/replica tag)
  CONSUL_HTTP_ADDR               the Consul agent (consul:8500); CONSUL_HTTP_TOKEN(_FILE) its ACL token
  POSTGRES_USER / POSTGRES_DB    the superuser the app connects as, and its database (created once, post_init)
  POSTGRES_PASSWORD_FILE         that user's password; POSTGRES_REPLICATION_PASSWORD_FILE the replicator's
  PATRONI_CHECK_TTL              how long the node's liveness check stays passing unrenewed (default 5s)

The cluster-wide settings (ttl, loop_wait, synchronous_mode, PostgreSQL parameters) are docker/patroni-dcs.json,
the same file the local cluster reads. Output: patroni.yml (JSON is YAML) and the liveness service and check
docker/patroni-node.sh registers in Consul, both in the folder given as the only argument.
"""

import json
import os
import sys
from pathlib import Path


def secret(name: str) -> str:
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().rstrip("\r\n")
    value = os.environ.get(name)
    if not value:
        sys.exit(f"patroni-config: set {name}_FILE (or {name})")
    return value


def main() -> None:
    os.umask(0o077)  # the files hold passwords and a Consul token
    out = Path(sys.argv[1])
    name = os.environ["PATRONI_NAME"]
    host = os.environ.get("PATRONI_HOST", name)
    user = os.environ.get("POSTGRES_USER", "mutiroes")
    check_id = f"patroni-{name}-alive"
    token = os.environ.get("CONSUL_HTTP_TOKEN") or (
        secret("CONSUL_HTTP_TOKEN") if os.environ.get("CONSUL_HTTP_TOKEN_FILE") else None
    )
    hba = [
        "local all all trust",
        "host replication replicator all scram-sha-256",
        "host all all all scram-sha-256",
    ]
    consul = {
        "host": os.environ.get("CONSUL_HTTP_ADDR", "consul:8500"),
        "register_service": True,
        "service_check_interval": "2s",
        "checks": [check_id],
    }
    if token:
        consul["token"] = token
    config = {
        "scope": os.environ.get("PATRONI_SCOPE", "mutiroes"),
        "namespace": "/service/",
        "name": name,
        "log": {"level": os.environ.get("PATRONI_LOG_LEVEL", "INFO")},
        "restapi": {"listen": "0.0.0.0:8008", "connect_address": f"{host}:8008"},
        "consul": consul,
        "bootstrap": {
            "dcs": json.loads(Path("/etc/patroni/patroni-dcs.json").read_text()),
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, {"auth-host": "scram-sha-256"}],
            "pg_hba": hba,
            # the app's database, once, on the node that initialised the cluster (the standby copies it)
            "post_init": "/usr/local/bin/postgres-entrypoint create-database",
        },
        "postgresql": {
            "listen": "0.0.0.0:5432",
            "connect_address": f"{host}:5432",
            "data_dir": os.environ.get("PGDATA", "/var/lib/postgresql/data"),
            "bin_dir": os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"),
            "pgpass": str(out / "pgpass"),
            "authentication": {
                "superuser": {"username": user, "password": secret("POSTGRES_PASSWORD")},
                "replication": {"username": "replicator", "password": secret("POSTGRES_REPLICATION_PASSWORD")},
            },
            "parameters": {"password_encryption": "scram-sha-256", "unix_socket_directories": "/var/run/postgresql"},
            "pg_hba": hba,
            # a new standby copies the primary at once: pg_basebackup's default (spread) checkpoint can make it wait
            # minutes for the primary's next checkpoint
            "basebackup": [{"checkpoint": "fast"}],
        },
    }
    (out / "patroni.yml").write_text(json.dumps(config, indent=2))
    # passed every second while Patroni answers; a few seconds of slack for a busy machine (the local cluster,
    # on loopback, uses 3 s)
    ttl = os.environ.get("PATRONI_CHECK_TTL", "5s")
    # a service of its own: a critical node-level check would make every service on the agent's node critical
    check = {
        "ID": f"patroni-{name}",
        "Name": "patroni-liveness",
        "Check": {"CheckID": check_id, "Name": f"Patroni {name} answers", "TTL": ttl, "Status": "passing"},
    }
    (out / "liveness-check.json").write_text(json.dumps(check))


if __name__ == "__main__":
    main()
