"""Private, throw-away instances of the real services the tests use: PostgreSQL and Redis.

PostgreSQL refuses to run as root, so when the tests run as root its data directory belongs to an unprivileged
user (``nobody`` unless ``MUTIROES_TEST_PG_USER`` says otherwise) and its commands run through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import redis as redis_lib

# one implementation for the tests and the local cluster
from cluster import NGINX_FILES, ClusterError, free_port, wait_for_port
from cluster.layout import TOOLS_BIN

PG_BIN = Path(os.environ.get("MUTIROES_PG_BIN", "/usr/lib/postgresql/15/bin"))

__all__ = ["PG_BIN", "Consul", "Postgres", "Redis", "free_port", "wait_for_port"]


def _terminate(process: subprocess.Popen | None) -> None:
    """SIGTERM, and SIGKILL when it has not exited within 15 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _as_service_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    user = os.environ.get("MUTIROES_TEST_PG_USER", "nobody")
    return ["runuser", "-u", user, "--", *command]


@dataclass
class Postgres:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "mutiroes") -> str:
        return f"postgresql+psycopg2://mutiroes@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            _as_service_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]),
            check=check,
            capture_output=True,
            text=True,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
            "-c shared_buffers=128MB"
        )
        self._pg_ctl("-o", options, "-l", str(self.root / "postgres.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop", check=False)

    def createdb(self, name: str) -> None:
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "mutiroes", name],
            check=True,
            capture_output=True,
        )

    @classmethod
    def create(cls) -> Postgres:
        root = Path(tempfile.mkdtemp(prefix="mutiroes-pg-"))
        if os.geteuid() == 0:
            owner = pwd.getpwnam(os.environ.get("MUTIROES_TEST_PG_USER", "nobody"))
            os.chown(root, owner.pw_uid, owner.pw_gid)
        os.chmod(root, 0o755)
        instance = cls(root=root, port=free_port())
        subprocess.run(
            _as_service_user(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(instance.data),
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
        instance.start()
        instance.createdb("mutiroes")
        return instance

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Consul:
    """A Consul dev agent (in-memory, its own server) on free ports, as the local cluster runs it."""

    http_port: int
    process: subprocess.Popen | None = None

    @property
    def http_addr(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @classmethod
    def create(cls) -> Consul:
        instance = cls(http_port=free_port())
        ports = [f"-{flag}={free_port()}" for flag in ("dns-port", "serf-lan-port", "serf-wan-port", "server-port")]
        instance.process = subprocess.Popen(
            [
                str(TOOLS_BIN / "consul"),
                "agent",
                "-dev",
                "-node=mutiroes-test",
                "-client=127.0.0.1",
                "-bind=127.0.0.1",
                f"-http-port={instance.http_port}",
                "-grpc-port=-1",
                *ports,
                "-log-level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the HTTP port opens before the agent has a leader
            try:
                with urllib.request.urlopen(f"http://{instance.http_addr}/v1/status/leader", timeout=2) as answer:
                    if answer.read().strip(b'"\n'):
                        return instance
            except OSError:
                pass
            time.sleep(0.2)
        instance.destroy()
        raise ClusterError("the Consul dev agent did not elect itself within 30 s")

    def destroy(self) -> None:
        _terminate(self.process)
        self.process = None


@dataclass
class Redis:
    root: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        self._wait_until_loaded()

    def _wait_until_loaded(self, timeout: float = 30.0) -> None:
        """A restarted Redis accepts connections while it replays its append-only file and answers LOADING until it
        is done; the whole session's commands are in that file, so late in a run this takes a noticeable moment."""
        client = redis_lib.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis_lib.exceptions.BusyLoadingError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    @classmethod
    def create(cls) -> Redis:
        instance = cls(root=Path(tempfile.mkdtemp(prefix="mutiroes-redis-")), port=free_port())
        instance.start()
        return instance

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Gunicorn:
    """The app under gunicorn (gthread workers), as a replica runs it; configured by ``MUTIROES_*`` variables."""

    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def create(cls, environ: dict[str, str], *, workers: int = 2, threads: int = 8) -> Gunicorn:
        instance = cls(port=free_port())
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUTIROES_")}
        env.update(environ)
        root = Path(__file__).resolve().parent.parent
        instance.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--bind",
                f"127.0.0.1:{instance.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
                "--chdir",
                str(root),
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(instance.port, timeout=30)
        except ClusterError:
            instance.destroy()
            raise
        return instance

    def destroy(self) -> None:
        _terminate(self.process)
        self.process = None


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Nginx:
    """The gateway's nginx.conf, as the repository has it, in front of one upstream address; ``unlimited`` are the
    addresses of the gateway's own host (unlimited.conf)."""

    root: Path
    port: int
    process: subprocess.Popen | None = None

    @classmethod
    def create(cls, upstream: str, *, unlimited: tuple[str, ...] = ("127.0.0.1/32",)) -> Nginx:
        instance = cls(root=Path(tempfile.mkdtemp(prefix="mutiroes-nginx-")), port=free_port())
        instance.root.chmod(0o755)  # nginx's workers (nobody, when the tests run as root) buffer bodies under tmp/
        for sub in ("logs", "run", "tmp", "media"):
            (instance.root / sub).mkdir()
        repository = Path(__file__).resolve().parent.parent / "nginx"
        for name in NGINX_FILES:
            shutil.copyfile(repository / name, instance.root / name)
        (instance.root / "listen.conf").write_text(f"listen 127.0.0.1:{instance.port};\n")
        (instance.root / "unlimited.conf").write_text("".join(f"{address} 0;\n" for address in unlimited))
        (instance.root / "upstream.conf").write_text(
            f"upstream mutiroes_api {{\n    zone mutiroes_api 64k;\n    server {upstream};\n}}\n"
        )
        instance.process = subprocess.Popen(
            [NGINX, "-p", f"{instance.root}/", "-c", str(instance.root / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(instance.port, timeout=10)
        except ClusterError:
            instance.destroy()
            raise
        return instance

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
