"""The cluster's PostgreSQL: one data directory made by initdb (as an unprivileged user when run as root, which
initdb refuses) and the ``mutiroes`` database, owned by the ``mutiroes`` role the API connects as.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

from cluster.layout import PG_BIN, PG_USER
from cluster.processes import ClusterError


def _as_pg_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *command] if os.geteuid() == 0 else command


def init_postgres(root: Path) -> bool:
    """initdb into ``root/data`` unless a cluster is there already; True when it made one."""
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


def create_database(port: int) -> None:
    """Wait for the server on ``port``, then create the ``mutiroes`` database unless it exists."""
    server = ["-h", "127.0.0.1", "-p", str(port), "-U", "mutiroes"]
    deadline = time.monotonic() + 30
    while subprocess.run([str(PG_BIN / "pg_isready"), *server], capture_output=True).returncode:
        if time.monotonic() > deadline:
            raise ClusterError("PostgreSQL did not become ready")
        time.sleep(0.2)
    exists = subprocess.run(
        [
            str(PG_BIN / "psql"),
            *server,
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
            [str(PG_BIN / "createdb"), *server, "mutiroes"],
            check=True,
            capture_output=True,
        )
