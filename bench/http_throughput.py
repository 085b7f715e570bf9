"""Anonymous cache hits over HTTP with wrk: one replica directly and three replicas through nginx, against the floor.

    .venv/bin/python bench/http_throughput.py [--duration 20] [--warmup 5] [--connections 32] [--json FILE]

Starts a private local cluster (3 replicas x 4 gunicorn workers, the code of `make cluster`) in a temporary folder
with 1,000 published events, and the floor: bench/floor_app.py, a bare WSGI app answering a fixed 1 KB JSON, on the
same gunicorn settings — one instance measured directly, and three behind an nginx running the repository's
nginx.conf (the cluster's gateway, its upstream pointing at the floor instead of the API). Each figure is given as
a ratio to the floor measured right before it on the same path (direct, or through nginx): ratios hold on this
noisy machine, absolute numbers don't.

The list/detail pair is GET /api/events/ and GET /api/events/<id>/ (anonymous: after the warm-up, cache hits).
Each is compared with two floors on its path: the floor answering as many bytes as it does (``?bytes=N``: the same
bytes to send and for wrk to read, so the ratio is what the app adds to a server that only returns bytes it has),
and the fixed 1 KB floor of the other benchmarks. Targets: one replica >= 60 % of the floor for both; three
replicas through nginx >= 35 % of the floor through nginx.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchCluster, Gateway, get, make_events, measure, row, start_floor, stop, write_rows

TARGETS = {"1 replica direct": 0.60, "3 replicas via nginx": 0.35}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--json", help="also write the table rows to this file")
    args = parser.parse_args(argv)
    timing = {"duration": args.duration, "warmup": args.warmup, "connections": args.connections}

    floors, gateway, rows = [], None, []
    with BenchCluster(backends=3, gunicorn_workers=4) as bench:
        ids = make_events(bench.app(), args.events)
        list_path, detail_path = "/api/events/", f"/api/events/{ids[len(ids) // 2]}/"
        try:
            floors = [start_floor(bench.env(0)) for _ in range(4)]
            gateway = Gateway(servers=[port for _process, port in floors[1:]]).start()
            print(f"wrk -t2 -c{args.connections} -d{args.duration}s --latency (after a {args.warmup}s warm-up)")
            print(f"list = {list_path}   detail = {detail_path}   ({args.events} events)", flush=True)
            paths = (
                ("1 replica direct", f"http://127.0.0.1:{floors[0][1]}/", bench.replica(0)),
                ("3 replicas via nginx", gateway.url, bench.gateway),
            )
            for label, floor_url, base in paths:
                floor = measure(f"floor ({label})", floor_url, **timing)
                for kind, path in (("list", list_path), ("detail", detail_path)):
                    size = len(get(base + path).content)
                    same = measure(f"floor, {size} B ({label})", f"{floor_url}?bytes={size}", **timing)
                    result = measure(f"{kind} {label}", base + path, **timing)
                    cache = get(base + path).headers.get("X-Cache")
                    rows.append(
                        row(
                            "http_throughput",
                            f"{kind} {label} (X-Cache: {cache}) vs the {size} B floor",
                            result["ok_rps"],
                            "req/s",
                            floor=same["ok_rps"],
                            target=f">= {TARGETS[label]:.0%} of the floor",
                        )
                    )
                    rows.append(
                        row(
                            "http_throughput",
                            f"{kind} {label} vs the 1 KB floor",
                            result["ok_rps"],
                            "req/s",
                            floor=floor["ok_rps"],
                        )
                    )
                    rows.append(row("http_throughput", f"{kind} {label} p99", result["p99_ms"], "ms"))
        finally:
            if gateway is not None:
                gateway.stop()
            for process, _port in floors:
                stop(process)
    print()
    for line in rows:
        if line["ratio"] is not None:
            print(f"{line['measure']:<48} {line['ratio'] * 100:>5.1f} % of the floor")
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
