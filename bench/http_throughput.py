"""HTTP throughput of the API with wrk: one replica directly and three replicas through nginx, against a floor.

    .venv/bin/python bench/http_throughput.py [--duration 20] [--connections 32]

Starts a private local cluster (3 replicas x 4 gunicorn workers, the same code as `make cluster`) in a temporary
folder, plus the floor: a bare WSGI app returning a fixed 1 KB JSON on the same gunicorn settings. Each figure is
given as a ratio to the floor measured right before it, because this machine is noisy: ratios hold, absolute
numbers don't. Targets (one replica): list >= 30 % of the floor, detail >= 20 %, p99 < 50 ms.

The list/detail pair is GET /api/events/ and GET /api/events/<id>/ (anonymous) on 1,000 published events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster import Cluster, free_port, wait_for_port
from mutiroes import create_app
from mutiroes.config import Config
from mutiroes.events import service as events
from mutiroes.users import service as users

ROOT = Path(__file__).resolve().parent.parent

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, *, duration: int, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        latency[pct] = float(value) * UNITS[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def measure(name: str, url: str, args) -> dict:
    subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.warmup}s", url], capture_output=True, check=True)
    result = {"name": name, "url": url, **wrk(url, duration=args.duration, connections=args.connections)}
    print(
        f"{name:<28} {result['rps']:>9.0f} req/s  p50 {result['p50_ms']:>7.2f} ms  p99 {result['p99_ms']:>7.2f} ms"
        f"  non-2xx {result['non_2xx']}",
        flush=True,
    )
    return result


def start_floor(env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    floor_env = {
        **env,
        "MUTIROES_BIND": f"127.0.0.1:{port}",
        "MUTIROES_DRAIN_FILE": str(Path(tempfile.gettempdir()) / f"floor-{port}.draining"),
    }
    floor_env.pop("MUTIROES_CONSUL_HTTP_ADDR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "bench.floor_app:app"],
        cwd=ROOT,
        env=floor_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, port


def prepare_data(env: dict[str, str], count: int = 1000) -> tuple[str, str]:
    """1,000 published events in the cluster's database; returns the list and detail paths to measure."""
    app = create_app(Config.from_env({**os.environ, **env}))
    with app.app_context():
        organizer = users.create(username="bench", email="bench@example.org", password=os.urandom(12).hex())
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
                    "latitude": -22.97 + (n % 100) / 1000,
                    "longitude": -43.18 - (n // 100) / 1000,
                    "start_date": start + dt.timedelta(hours=n),
                    "end_date": start + dt.timedelta(hours=n + 3),
                    "max_participants": 50,
                },
            )
            ids.append(event.id)
    return "/api/events/", f"/api/events/{ids[len(ids) // 2]}/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    state_dir = tempfile.mkdtemp(prefix="mutiroes-bench-")
    os.chmod(state_dir, 0o755)
    cluster = Cluster(state_dir, nginx_port=None, consul_port=None)
    floor = None
    try:
        state = cluster.up(
            backends=3, extra_env={"MUTIROES_GUNICORN_WORKERS": "4", "MUTIROES_LOG_LEVEL": "WARNING"}, timeout=90
        )
        api = cluster.urls(state)["api"]
        direct = f"http://127.0.0.1:{state.api_ports[0]}"
        list_path, detail_path = prepare_data(cluster.replica_env(state, 0))
        floor, floor_port = start_floor(cluster.replica_env(state, 0))
        floor_url = f"http://127.0.0.1:{floor_port}/"
        print(f"wrk -t2 -c{args.connections} -d{args.duration}s --latency (after a {args.warmup}s warm-up)")
        print(f"list = {list_path}   detail = {detail_path}")
        results = []
        for label, base in (("1 replica direct", direct), ("3 replicas via nginx", api)):
            floor_result = measure(f"floor ({label})", floor_url, args)
            results.append(floor_result)
            for kind, path in (("list", list_path), ("detail", detail_path)):
                result = measure(f"{kind} {label}", base + path, args)
                result["ratio_to_floor"] = result["rps"] / floor_result["rps"]
                results.append(result)
        print()
        for result in results:
            if "ratio_to_floor" in result:
                print(f"{result['name']:<28} {result['ratio_to_floor'] * 100:>5.1f} % of the floor")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        if floor is not None:
            floor.terminate()
            floor.wait(timeout=30)
        cluster.down(purge=True)
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
