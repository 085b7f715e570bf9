"""What the benchmarks share: wrk and the reading of its report, the floor (a bare WSGI app on the API's gunicorn
settings, directly and through an nginx configured like the cluster's), a private local cluster with data and
logged-in volunteers, percentiles, and the rows that ``bench/all.py`` gathers into one table.

This machine is shared and noisy: every figure is printed with the floor measured in the same run, and the ratio to
it is the number to compare between runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster import NGINX, NGINX_FILES, Cluster, ClusterError, free_port, wait_for_port
from mutiroes import create_app
from mutiroes.config import Config
from mutiroes.events import service as events
from mutiroes.users import service as users

ROOT = Path(__file__).resolve().parent.parent
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# the bench cluster's password hashes: cheap, since logging in is set-up here, not what is measured
CHEAP_HASHES = {"MUTIROES_ARGON2_TIME_COST": "1", "MUTIROES_ARGON2_MEMORY_COST_KIB": "1024"}
PASSWORD = "caminhada-verde-42"  # noqa: S105 - the benchmark volunteers' password, in a throw-away cluster
# the statement deadline of the loaders of a million events (bench/nearby.py, bench/list_scale.py): an index build
LOAD_STATEMENT_TIMEOUT_MS = 15 * 60 * 1000
# Rio de Janeiro's beaches: where the benchmark events are
RIO = (-22.97, -43.18)


# --- wrk -------------------------------------------------------------------------------------------------------


def wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    threads: int = 2,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
    timeout: int = 5,
) -> dict:
    """One wrk run: requests/s, p50/p90/p99 in ms, non-2xx answers, socket errors and the request count."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    latency = {}
    for pct in ("50", "90", "99"):
        value, unit = re.search(rf"\s{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\b", out).groups()
        latency[pct] = float(value) * UNITS[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests_sent = int(re.search(r"(\d+) requests in", out).group(1))
    failed = int(non_2xx.group(1)) if non_2xx else 0
    return {
        "rps": rps,
        # what the benchmarks report: answers that were not errors (an overloaded gateway answers 503s fast)
        "ok_rps": rps * (requests_sent - failed) / requests_sent if requests_sent else 0.0,
        "requests": requests_sent,
        "p50_ms": latency["50"],
        "p90_ms": latency["90"],
        "p99_ms": latency["99"],
        "non_2xx": failed,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "report": out,
    }


def measure(name: str, url: str, *, duration: int, warmup: int, connections: int, **options) -> dict:
    """A warm-up run, then the measured one, printed as one line."""
    if warmup:
        wrk(url, duration=warmup, connections=connections, **options)
    result = {"name": name, "url": url, **wrk(url, duration=duration, connections=connections, **options)}
    print(
        f"{name:<40} {result['ok_rps']:>8.0f} req/s  p50 {result['p50_ms']:>7.2f} ms  p99 {result['p99_ms']:>7.2f} ms"
        f"  non-2xx {result['non_2xx']}  socket errors {result['socket_errors']}",
        flush=True,
    )
    return result


# --- the floor -------------------------------------------------------------------------------------------------


def start_floor(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """bench/floor_app.py on the API's gunicorn settings (``env``'s, so the same workers and threads)."""
    port = free_port()
    floor_env = {
        **os.environ,
        **env,
        "MUTIROES_BIND": f"127.0.0.1:{port}",
        "MUTIROES_DRAIN_FILE": str(Path(tempfile.gettempdir()) / f"floor-{port}.draining"),
    }
    for name in ("MUTIROES_CONSUL_HTTP_ADDR", "PROMETHEUS_MULTIPROC_DIR"):
        floor_env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "bench.floor_app:app"],
        cwd=ROOT,
        env=floor_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, port


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Gateway:
    """An nginx with the repository's nginx.conf in front of fixed upstream servers (the floor's): the gateway the
    cluster's replicas are measured through, with the floor behind it instead of the API."""

    servers: list[int]
    prefix: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mutiroes-bench-nginx-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> Gateway:
        os.chmod(self.prefix, 0o755)
        for sub in ("logs", "run", "tmp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        for name in NGINX_FILES:
            shutil.copyfile(ROOT / "nginx" / name, self.prefix / name)
        (self.prefix / "listen.conf").write_text(f"listen 127.0.0.1:{self.port};\n")
        (self.prefix / "unlimited.conf").write_text("127.0.0.1/32 0;\n")
        # the upstream consul/upstream.conf.ctmpl renders, with the floor's servers
        servers = "".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in self.servers)
        (self.prefix / "upstream.conf").write_text(
            "upstream mutiroes_api {\n    least_conn;\n    zone mutiroes_api 64k;\n"
            f"{servers}    keepalive 32;\n    keepalive_timeout 30s;\n}}\n"
        )
        errors = self.prefix / "logs" / "stderr.log"
        with errors.open("wb") as stderr:
            self.process = subprocess.Popen(
                [NGINX, "-p", f"{self.prefix}/", "-c", str(self.prefix / "nginx.conf"), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            wait_for_port(self.port)
        except ClusterError as exc:  # say why: a config nginx refuses is the usual cause
            raise ClusterError(f"{exc}; nginx said: {errors.read_text().strip()[-2000:]}") from exc
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.prefix, ignore_errors=True)


# --- a private cluster with data -------------------------------------------------------------------------------


@dataclass
class BenchCluster:
    """A private local cluster (the code of `make cluster`) in a temporary folder, with benchmark data."""

    backends: int = 3
    gunicorn_workers: int = 4
    dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="mutiroes-bench-"))
    cluster: Cluster | None = None
    state: object = None

    def __enter__(self) -> BenchCluster:
        os.chmod(self.dir, 0o755)
        self.cluster = Cluster(self.dir, nginx_port=None, consul_port=None)
        self.state = self.cluster.up(
            backends=self.backends,
            extra_env={
                "MUTIROES_GUNICORN_WORKERS": str(self.gunicorn_workers),
                "MUTIROES_LOG_LEVEL": "WARNING",
                **CHEAP_HASHES,
            },
            timeout=120,
        )
        return self

    def __exit__(self, *exc) -> None:
        self.cluster.down(purge=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def gateway(self) -> str:
        return self.cluster.urls(self.state)["api"]

    def replica(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.state.api_ports[index]}"

    def env(self, index: int = 0) -> dict[str, str]:
        return self.cluster.replica_env(self.state, index)

    def app(self):
        return create_app(Config.from_env({**os.environ, **self.env(0)}))


def make_events(app, count: int, *, max_participants: int = 1000) -> list[int]:
    """``count`` published events on Rio's beaches, starting 30 days from now, one organizer; returns their ids."""
    with app.app_context():
        organizer = users.create(username="bench", email="bench@example.org", password=PASSWORD)
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
        ids = []
        for n in range(count):
            event = events.create(
                organizer=organizer,
                data={
                    "title": f"Mutirão de limpeza {n}",
                    "description": "Limpeza da praia com separação de recicláveis.",
                    "category": 1 + n % 4,
                    "address": f"Avenida Atlântica, {n}",
                    "city": "Rio de Janeiro",
                    "state": "RJ",
                    "latitude": RIO[0] + (n % 100) / 1000,
                    "longitude": RIO[1] - (n // 100) / 1000,
                    "start_date": start + dt.timedelta(hours=n),
                    "end_date": start + dt.timedelta(hours=n + 3),
                    "max_participants": max_participants,
                },
            )
            ids.append(event.id)
    return ids


def make_volunteers(app, count: int) -> list[dict]:
    """``count`` volunteers: [{"id", "username", "email"}] (password: PASSWORD)."""
    made = []
    with app.app_context():
        for n in range(count):
            user = users.create(
                username=f"voluntaria{n}",
                email=f"voluntaria{n}@example.org",
                password=PASSWORD,
                first_name="Voluntária",
                last_name=str(n),
            )
            made.append({"id": user.id, "username": user.username, "email": user.email})
    return made


def log_in(base_url: str, volunteers: list[dict]) -> list[str]:
    """An access token per volunteer, from POST /api/token/ on ``base_url`` (a replica: nginx limits logins)."""
    tokens = []
    for volunteer in volunteers:
        response = requests.post(
            f"{base_url}/api/token/", json={"email": volunteer["email"], "password": PASSWORD}, timeout=30
        )
        response.raise_for_status()
        tokens.append(response.json()["access"])
    return tokens


def get(url: str, headers: dict | None = None) -> requests.Response:
    return requests.get(url, headers=headers or {}, timeout=30)


# --- numbers ---------------------------------------------------------------------------------------------------


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def p50(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def row(bench: str, measure: str, value: float, unit: str, *, floor: float | None = None, target: str = "") -> dict:
    """One line of the table bench/all.py prints; ``floor`` is the same run's floor in the same unit."""
    ratio = None
    if floor:
        ratio = value / floor
    return {
        "bench": bench,
        "measure": measure,
        "value": value,
        "unit": unit,
        "floor": floor,
        "ratio": ratio,
        "target": target,
    }


def write_rows(path: str | None, rows: list[dict]) -> None:
    if path:
        Path(path).write_text(json.dumps(rows, indent=2))
