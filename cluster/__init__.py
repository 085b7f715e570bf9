"""The local cluster: the distributed topology as real processes on one machine, no Docker.

PostgreSQL, Redis, a Consul dev agent, consul-template, nginx, N API replicas (gunicorn), the RQ workers, the
scheduler and an SMTP sink, each a supervisor program, all state under one folder (``.cluster/`` for
``make cluster``; a temporary one for the end-to-end tests, which drive it through this same class).

rq-dashboard is no program of its own: the API mounts it at ``/rq/`` for staff (mutiroes/web/dashboard.py), so it
is reached through nginx like the rest of the API.

By subject: ``processes`` (ports: free, taken, listening), ``layout`` (the programs of this machine, the state
folder, the settings the processes run with), ``supervisor`` (the generated supervisord.conf and nginx and
consul-template files), ``postgres`` (initdb, the database) and ``control`` (the Cluster class: lifecycle, the
routing as Consul and nginx see it, operations). Everything a caller needs is importable from ``cluster``.
"""

from cluster.control import Cluster
from cluster.layout import (
    CLUSTER_DEFAULTS,
    CONSUL_PORT_NAMES,
    NGINX,
    NGINX_FILES,
    PG_BIN,
    PG_USER,
    ROOT,
    SERVICE_NAME,
    TOOLS_BIN,
    Layout,
    State,
)
from cluster.processes import ClusterError, free_port, port_is_free, wait_for_port

__all__ = [
    "CLUSTER_DEFAULTS",
    "CONSUL_PORT_NAMES",
    "NGINX",
    "NGINX_FILES",
    "PG_BIN",
    "PG_USER",
    "ROOT",
    "SERVICE_NAME",
    "TOOLS_BIN",
    "Cluster",
    "ClusterError",
    "Layout",
    "State",
    "free_port",
    "port_is_free",
    "wait_for_port",
]
