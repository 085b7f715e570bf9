"""The cluster's generated configuration: supervisord.conf, one program per process, and the files those programs
read (nginx's configuration with the listen port and a first upstream, consul-template's configuration).

Every program is ``autostart=false``: the cluster starts them in order (infrastructure, migrations, nginx, then
the replicas and workers), so that nothing starts against a database that is not migrated yet.
"""

from __future__ import annotations

import os
import shutil
import string
import sys

from cluster import ha
from cluster.layout import (
    NGINX,
    NGINX_FILES,
    PG_BIN,
    PG_NODES,
    PG_USER,
    PROMETHEUS,
    REDIS_NODES,
    ROOT,
    SENTINELS,
    SERVICE_NAME,
    TOOLS_BIN,
    Layout,
    State,
)

PATRONI_PROGRAMS = ("patroni-1", "patroni-2")


def _quote_env(env: dict[str, str]) -> str:
    """supervisor's environment= syntax: KEY="value" pairs; % is its interpolation character."""
    return ",".join(f'{k}="{str(v).replace("%", "%%")}"' for k, v in sorted(env.items()))


def program(
    layout: Layout, name: str, command: str, *, priority: int, env: dict | None = None, directory=ROOT, **options
) -> str:
    """One ``[program:x]`` section: started by the cluster, not by supervisord; output in logs/<name>.log."""
    lines = [
        f"[program:{name}]",
        f"command={command}",
        f"directory={directory}",
        f"priority={priority}",
        "autostart=false",
        "redirect_stderr=true",
        f"stdout_logfile={layout.dir / 'logs' / (name + '.log')}",
        "stdout_logfile_maxbytes=20MB",
        "stdout_logfile_backups=2",
    ]
    if env:
        lines.append(f"environment={_quote_env(env)}")
    lines += [f"{key}={value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def render(layout: Layout, state: State) -> str:
    """supervisord.conf: supervisord itself and one program per process of the cluster."""
    p = state.ports
    python = sys.executable
    run = layout.dir / "run"
    sections = [
        f"""[unix_http_server]
file={run / "supervisor.sock"}
chmod=0700

[supervisord]
logfile={layout.dir / "logs" / "supervisord.log"}
pidfile={run / "supervisord.pid"}
childlogdir={layout.dir / "logs"}
identifier=mutiroes-cluster
{"user=root" if os.geteuid() == 0 else ""}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{run / "supervisor.sock"}
"""
    ]
    pg_options = {"user": PG_USER} if os.geteuid() == 0 else {}
    if state.ha:
        node_script, patroni = ha.patroni_programs(layout)
        for node, name in zip(PG_NODES, PATRONI_PROGRAMS, strict=True):
            sections.append(
                program(
                    layout,
                    name,
                    f"sh {node_script} {layout.dir / 'postgres' / node / 'patroni.yml'} "
                    f"{layout.dir / 'postgres' / node / 'liveness-check.json'} 127.0.0.1:{p[name]}",
                    priority=15,
                    # Patroni stops its PostgreSQL (a fast shutdown) on TERM
                    stopsignal="TERM",
                    stopwaitsecs=40,
                    autorestart="true",
                    killasgroup="true",
                    stopasgroup="true",
                    env={"PATRONI": str(patroni), "CONSUL_HTTP_ADDR": f"127.0.0.1:{p['consul_http']}"},
                    # its own folder: PostgreSQL's user may not enter a private checkout
                    directory=layout.dir / "postgres" / node,
                    **pg_options,
                )
            )
        for node in REDIS_NODES:
            sections.append(
                program(
                    layout, node, f"redis-server {layout.dir / node / 'redis.conf'}", priority=10, autorestart="true"
                )
            )
        for node in SENTINELS:
            sections.append(
                program(
                    layout,
                    node,
                    f"redis-sentinel {layout.dir / node / 'sentinel.conf'}",
                    priority=12,
                    autorestart="true",
                )
            )
    else:
        sections.append(
            program(
                layout,
                "postgres",
                f"{PG_BIN / 'postgres'} -D {layout.dir / 'postgres' / 'data'} -p {p['postgres']} "
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
            program(
                layout,
                "redis",
                f"redis-server --port {p['redis']} --bind 127.0.0.1 --dir {layout.dir / 'redis'} "
                f"--requirepass {state.redis_password} "
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
        program(
            layout,
            "consul",
            f"{TOOLS_BIN / 'consul'} agent -dev -node=mutiroes-local -config-file={ROOT / 'consul' / 'dev.hcl'} "
            + (f"-config-file={layout.dir / 'consul-checks.json'} " if state.ha else "")
            + f"-http-port={p['consul_http']} {consul_ports}",
            priority=10,
            autorestart="true",
            stopsignal="INT",
        )
    )
    sections.append(
        program(
            layout,
            "nginx",
            f'{NGINX} -p {layout.nginx_prefix}/ -c {layout.nginx_prefix / "nginx.conf"} -g "daemon off;"',
            priority=20,
            autorestart="true",
            stopsignal="QUIT",
        )
    )
    sections.append(
        program(
            layout,
            "consul-template",
            f"{TOOLS_BIN / 'consul-template'} -config={layout.dir / 'consul-template.hcl'}",
            priority=30,
            env={"MUTIROES_SERVICE_NAME": SERVICE_NAME},
            autorestart="true",
            stopsignal="INT",
        )
    )
    # consul-template renders the replicas' targets from Consul and runs Prometheus, reloaded (SIGHUP) on a change
    prometheus = (
        f"{PROMETHEUS} --config.file={layout.dir / 'prometheus' / 'prometheus.yml'} "
        f"--storage.tsdb.path={layout.dir / 'prometheus' / 'data'} --web.listen-address=127.0.0.1:{p['prometheus']}"
    )
    sections.append(
        program(
            layout,
            "prometheus",
            f"{TOOLS_BIN / 'consul-template'} -config={layout.dir / 'prometheus' / 'consul-template.hcl'} "
            f'-exec-reload-signal=SIGHUP -exec-kill-signal=SIGTERM -exec "{prometheus}"',
            priority=30,
            env={"MUTIROES_SERVICE_NAME": SERVICE_NAME},
            autorestart="true",
            stopsignal="TERM",
        )
    )
    for index, name in enumerate(layout.api_programs(state)):
        sections.append(
            program(
                layout,
                name,
                f"{python} -m gunicorn -c {ROOT / 'gunicorn.conf.py'} wsgi:app",
                priority=40,
                env=layout.replica_env(state, index),
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
    app_env = layout.app_env(state)
    for name in layout.worker_programs(state):
        sections.append(
            program(
                layout,
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
        program(layout, "scheduler", f"{python} -m workers.scheduler", priority=50, env=app_env, autorestart="true")
    )
    sections.append(
        program(
            layout,
            "smtp-sink",
            f"{python} -m workers.smtp_sink --host 127.0.0.1 --port {p['smtp']} --dir {layout.dir / 'mail'}",
            priority=10,
            autorestart="true",
        )
    )
    return "\n".join(sections)


def write_configs(layout: Layout, state: State) -> None:
    """Every file the programs read, from the repository's nginx/ and consul/ and the state's ports."""
    folders = ("logs", "run", "redis", "media", "mail", "instance", "nginx/logs", "nginx/run", "nginx/tmp")
    for sub in (*folders, "prometheus/data", "prometheus/targets"):
        (layout.dir / sub).mkdir(parents=True, exist_ok=True)
    prometheus_paths = {
        "CONSUL_HTTP_ADDR": f"127.0.0.1:{state.ports['consul_http']}",
        "TEMPLATE_DIR": str(ROOT / "prometheus"),
        "PROMETHEUS_CONFIG_DIR": str(ROOT / "prometheus"),
        "PROMETHEUS_TARGETS_DIR": str(layout.dir / "prometheus" / "targets"),
    }
    for name in ("prometheus.yml", "consul-template.hcl"):
        template = string.Template((ROOT / "prometheus" / name).read_text())
        (layout.dir / "prometheus" / name).write_text(template.substitute(prometheus_paths))
    targets = layout.dir / "prometheus" / "targets" / "api.json"
    if not targets.exists():
        targets.write_text("[]\n")
    if state.ha:
        ha.write_configs(layout, state)
    for name in NGINX_FILES:
        shutil.copyfile(ROOT / "nginx" / name, layout.nginx_prefix / name)
    extra_names = os.environ.get("MUTIROES_SERVER_NAMES", "").split()
    if extra_names:  # the host names this cluster is reached by, besides localhost and 127.0.0.1
        (layout.nginx_prefix / "server_names.conf").write_text(
            f"server_name localhost 127.0.0.1 {' '.join(extra_names)};\n"
        )
    (layout.nginx_prefix / "listen.conf").write_text(f"listen 127.0.0.1:{state.ports['nginx']};\n")
    (layout.nginx_prefix / "unlimited.conf").write_text("127.0.0.1/32 0;\n")
    media_link = layout.nginx_prefix / "media"
    if not media_link.is_symlink():
        media_link.symlink_to(layout.media_root)
    if not layout.upstream_file.exists():
        # before consul-template's first render: the same "no replica" fallback it renders itself
        layout.upstream_file.write_text(
            "upstream mutiroes_api {\n    zone mutiroes_api 64k;\n    server 127.0.0.1:9 down;\n}\n"
        )
    template = string.Template((ROOT / "consul" / "consul-template.hcl").read_text())
    (layout.dir / "consul-template.hcl").write_text(
        template.substitute(
            CONSUL_HTTP_ADDR=f"127.0.0.1:{state.ports['consul_http']}",
            TEMPLATE_DIR=str(ROOT / "consul"),
            NGINX_PREFIX=str(layout.nginx_prefix),
            NGINX=NGINX,
        )
    )
    layout.supervisor_conf.write_text(render(layout, state))
