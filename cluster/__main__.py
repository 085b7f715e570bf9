"""``python -m cluster COMMAND``: the local cluster's operations (the Makefile's cluster targets call these)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from cluster import PG_BIN, ROOT, Cluster, ClusterError

# settings of the invoking shell that reach the replicas (e.g. `make cluster MUTIROES_GUNICORN_WORKERS=2`)
PASS_THROUGH = ("MUTIROES_GUNICORN_", "MUTIROES_ARGON2_", "MUTIROES_LOG_LEVEL", "MUTIROES_LOGIN_")


def _print_urls(cluster: Cluster) -> None:
    urls = cluster.urls()
    print(f"API (nginx):     {urls['api']}/api/   docs: {urls['api']}/api/docs/")
    print(f"Consul UI:       {urls['consul_ui']}")
    print(f"PostgreSQL:      {urls['database']}")
    print(
        f"Redis:           {urls['redis']}"
        + (" (and its replica, watched by 3 Sentinels)" if cluster.load().ha else "")
    )
    if "prometheus" in urls:
        print(f"Prometheus:      {urls['prometheus']}")
    print(f"rq-dashboard:    {urls['rq_dashboard']} (staff credentials)")
    print(f"SMTP sink:       {urls['smtp']} (messages in {cluster.dir / 'mail'})")
    print(f"state and logs:  {cluster.dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster", description=__doc__)
    parser.add_argument("--dir", default=os.environ.get("MUTIROES_CLUSTER_DIR", str(ROOT / ".cluster")))
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster (idempotent) and wait until every replica is routed")
    up.add_argument("--backends", type=int, default=3)
    up.add_argument("--workers", type=int, default=2)
    sub.add_parser("status", help="processes, Consul's view and nginx's upstream")
    down = sub.add_parser("down", help="stop every process (state is kept unless --purge)")
    down.add_argument("--purge", action="store_true")
    scale_b = sub.add_parser("scale-backends")
    scale_b.add_argument("n", type=int)
    scale_w = sub.add_parser("scale-workers")
    scale_w.add_argument("n", type=int)
    sub.add_parser("restart-backends", help="rolling restart, one replica at a time, without failed requests")
    sub.add_parser("health", help="nginx's /health and the replicas' /health/ through nginx")
    sub.add_parser("info", help="the URLs of everything")
    logs = sub.add_parser("logs", help="the last lines of a program's log (default: nginx access log)")
    logs.add_argument("program", nargs="?")
    logs.add_argument("-n", type=int, default=50)
    flask = sub.add_parser("flask", help="a Flask CLI command against the cluster's database (db upgrade, seed...)")
    flask.add_argument("args", nargs=argparse.REMAINDER)
    backup = sub.add_parser("backup-db", help="pg_dump (custom format) into FILE")
    backup.add_argument("file")
    restore = sub.add_parser("restore-db", help="pg_restore FILE into the cluster's database (replaces objects)")
    restore.add_argument("file")
    sub.add_parser("migrate", help="apply the migrations to the cluster's database")
    sub.add_parser("populate", help="the categories and the demo data set (idempotent)")
    superuser = sub.add_parser("createsuperuser", help="create a staff account (asks for the password)")
    superuser.add_argument("username")
    superuser.add_argument("email")
    sub.add_parser("mail", help="the messages the SMTP sink received, newest last")
    fail = sub.add_parser("fail", help="a drill: kill -9 the current db-primary, redis-master, a replica or a worker")
    fail.add_argument("target", choices=("db-primary", "redis-master", "replica", "worker"))
    freeze = sub.add_parser("freeze", help="a drill: SIGSTOP the current db-primary or redis-master, then SIGCONT")
    freeze.add_argument("target", choices=("db-primary", "redis-master"))
    freeze.add_argument("seconds", type=float, nargs="?", default=20.0)
    args = parser.parse_args(argv)

    cluster = Cluster(args.dir)
    try:
        if args.command == "up":
            extra = {k: v for k, v in os.environ.items() if k.startswith(PASS_THROUGH)}
            cluster.up(backends=args.backends, workers=args.workers, extra_env=extra)
            _print_urls(cluster)
        elif args.command == "status":
            print(json.dumps(cluster.status(), indent=2))
        elif args.command == "down":
            cluster.down(purge=args.purge)
        elif args.command == "scale-backends":
            cluster.scale_backends(args.n)
            print(f"{args.n} API replicas routed: {sorted(cluster.upstream())}")
        elif args.command == "scale-workers":
            state = cluster.scale_workers(args.n)
            print(f"workers: {len(cluster.worker_programs(state))} running")
        elif args.command == "restart-backends":
            cluster.restart_backends()
            print("every replica restarted and routed again")
        elif args.command == "health":
            api = cluster.urls()["api"]
            for path in ("/health", "/health/"):
                try:
                    with urllib.request.urlopen(api + path, timeout=5) as response:  # noqa: S310 - local URL
                        print(path, response.status, response.read().decode().strip())
                except urllib.error.HTTPError as exc:
                    print(path, exc.code, exc.read().decode().strip())
        elif args.command == "info":
            _print_urls(cluster)
        elif args.command == "logs":
            path = cluster.access_log if not args.program else cluster.dir / "logs" / f"{args.program}.log"
            lines = Path(path).read_text(errors="replace").splitlines()[-args.n :]
            print("\n".join(lines))
        elif args.command == "flask":
            return cluster.flask(*args.args, check=False).returncode
        elif args.command == "migrate":
            return cluster.flask("db", "upgrade", check=False).returncode
        elif args.command == "populate":
            return cluster.flask("seed", check=False).returncode or cluster.flask("seed-demo", check=False).returncode
        elif args.command == "createsuperuser":
            return cluster.flask(
                "createsuperuser", "--username", args.username, "--email", args.email, check=False
            ).returncode
        elif args.command == "mail":
            for message in sorted((cluster.dir / "mail").glob("*.eml"))[-20:]:
                print(message.name)
        elif args.command == "fail":
            print(cluster.fail(args.target))
        elif args.command == "freeze":
            print(cluster.freeze(args.target, args.seconds))
        elif args.command in ("backup-db", "restore-db"):
            port = str(cluster.primary_port())
            if args.command == "backup-db":
                command = [str(PG_BIN / "pg_dump"), "-h", "127.0.0.1", "-p", port, "-U", "mutiroes", "-Fc"]
                return subprocess.run([*command, "-f", args.file, "mutiroes"], check=False).returncode
            # the same restore as the containers' (docker/pg-restore.sh says why it is not a plain pg_restore)
            env = {**os.environ, "PG_BIN": str(PG_BIN), "PGHOST": "127.0.0.1", "PGPORT": port}
            return subprocess.run(["sh", str(ROOT / "docker" / "pg-restore.sh"), args.file], env=env).returncode
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
