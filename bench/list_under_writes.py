"""The list and the detail alone and under a steady write load, through nginx and on one replica.

    .venv/bin/python bench/list_under_writes.py [--rate 20] [--duration 20] [--warmup 5] [--connections 32]
        [--events 300] [--volunteers 40] [--json FILE] [--cost-only]

Starts a private local cluster (3 replicas x 4 gunicorn workers, 2 RQ workers, the code of `make cluster`) with
300 published events and 40 logged-in volunteers. For each target (the cluster's nginx, then replica 1 directly)
it measures with wrk: the floor on that path (bench/floor_app.py directly, or three of them behind an nginx running
the repository's nginx.conf), the anonymous list GET /api/events/ and detail GET /api/events/<id>/ alone, then each
again while volunteers join and leave random events at --rate writes per second (open loop: each write leaves at
its scheduled time whatever the previous ones are doing, so a slow server cannot slow the load down; its latency is
counted from that time), and the write latencies.

First, the writes alone (no reader) through nginx: the CPU the whole machine spends per write, by program (from
/proc, net of what the idle cluster spends in as long), which bounds what the reads can keep under that write rate
on this machine. `--cost-only` stops there.

Targets: under 20 writes/s the list keeps >= 85 % of its throughput alone and its p99 stays <= 1.5x alone; join
p99 <= 100 ms meanwhile.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BenchCluster,
    Gateway,
    log_in,
    make_events,
    make_volunteers,
    measure,
    p50,
    percentile,
    row,
    start_floor,
    stop,
    write_rows,
)


class OpenLoopWriter:
    """Joins and leaves at a fixed rate from several volunteers. Each write goes to the next volunteer with no write
    in flight (a join of a random event when they hold none, else the leave of the one they joined), so no write
    races the same volunteer's previous one; a write due while every volunteer is busy is counted as missed."""

    def __init__(self, base_url: str, tokens: list[str], event_ids: list[int], rate: float, seed: int = 7) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.event_ids = event_ids
        self.rate = rate
        self.rng = random.Random(seed)
        self.joined: list[int | None] = [None] * len(tokens)
        self.idle = collections.deque(range(len(tokens)))
        self.missed = 0
        self.results: list[tuple[str, int | None, float]] = []  # (join|leave, status or None, seconds)
        self._stop = threading.Event()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=64)
        self._thread = threading.Thread(target=self._schedule, daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> OpenLoopWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)
        # the next load starts from nobody joined (not measured)
        for volunteer, event_id in enumerate(self.joined):
            if event_id is not None:
                self._session().post(
                    f"{self.base_url}/api/events/{event_id}/leave/",
                    json={},
                    headers={"Authorization": f"Bearer {self.tokens[volunteer]}"},
                    timeout=30,
                )

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _schedule(self) -> None:
        started = time.monotonic()
        k = 0
        while not self._stop.is_set():
            due = started + k / self.rate
            pause = due - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                break
            k += 1
            with self._lock:
                if not self.idle:
                    self.missed += 1
                    continue
                volunteer = self.idle.popleft()
                event_id = self.joined[volunteer]
            if event_id is None:
                kind, event_id = "join", self.rng.choice(self.event_ids)
            else:
                kind = "leave"
            self._pool.submit(self._write, kind, volunteer, event_id, due)

    def _write(self, kind: str, volunteer: int, event_id: int, due: float) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[volunteer]}"}
        try:
            response = self._session().post(
                f"{self.base_url}/api/events/{event_id}/{kind}/", json={}, headers=headers, timeout=10
            )
            status = response.status_code
        except requests.RequestException:
            status = None
        with self._lock:
            self.results.append((kind, status, time.monotonic() - due))
            if status is not None and status < 400:
                self.joined[volunteer] = event_id if kind == "join" else None
            self.idle.append(volunteer)

    def summary(self, seconds: float) -> dict:
        with self._lock:
            results = list(self.results)
        latencies = {kind: [s * 1000 for k, _status, s in results if k == kind] for kind in ("join", "leave")}
        failed = [status for _k, status, _s in results if status is None or status >= 400]
        return {
            "writes": len(results),
            "rate": len(results) / seconds,
            "failed": len(failed) + self.missed,
            "statuses": sorted({status for _k, status, _s in results}, key=str),
            **{f"{kind}_p50_ms": p50(values) for kind, values in latencies.items()},
            **{f"{kind}_p99_ms": percentile(values, 99) for kind, values in latencies.items()},
        }


# what each process of the cluster is, by its command line (first match wins); the rest is "other"
PROGRAMS = (
    ("postgres", ("postgres:", "/postgres ")),
    ("patroni", ("patroni",)),
    ("api (gunicorn)", ("gunicorn",)),
    # the bench's stand-in for an outside mail server, before the jobs (it is a workers.* module too)
    ("smtp sink", ("smtp_sink", "aiosmtpd")),
    ("jobs (rq workers, scheduler)", ("workers.", "rq ", "rqscheduler", "scheduler")),
    ("redis + sentinels", ("redis-server", "redis-sentinel")),
    ("nginx", ("nginx",)),
    ("consul", ("consul",)),
    ("this benchmark (the writers)", ("bench/list_under_writes",)),
)
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_program() -> dict[str, float]:
    """CPU seconds used so far by every live process, summed by program (PROGRAMS)."""
    used: dict[str, float] = collections.defaultdict(float)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
        program = next((name for name, marks in PROGRAMS if any(mark in command for mark in marks)), "other")
        used[program] += seconds
    return used


def cpu_per_write(base: str, tokens: list[str], event_ids: list[int], rate: float, seconds: int) -> dict:
    """Writes alone (no reader) for ``seconds``: the machine's CPU per write, in ms, by program, net of what the idle
    cluster spends in the same time (health checks, heartbeats, the relay's polls), measured right before."""
    settle = 2  # the jobs the last writes caused
    before = cpu_by_program()
    time.sleep(seconds + settle)
    idle = {name: max(0.0, used - before.get(name, 0.0)) for name, used in cpu_by_program().items()}
    before = cpu_by_program()
    with OpenLoopWriter(base, tokens, event_ids, rate) as writer:
        time.sleep(seconds)
        writes = writer.summary(seconds)
    time.sleep(settle)
    after = cpu_by_program()
    count = max(1, writes["writes"])
    spent = {
        name: max(0.0, after.get(name, 0.0) - before.get(name, 0.0) - idle.get(name, 0.0)) * 1000 / count
        for name in after
    }
    return {
        "writes": writes,
        "per_write_ms": spent,
        "total_ms": sum(spent.values()),
        "idle_ms_per_s": sum(idle.values()) * 1000 / (seconds + settle),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="joins + leaves per second")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--volunteers", type=int, default=40)
    parser.add_argument("--json", help="also write the table rows to this file")
    parser.add_argument("--cost-only", action="store_true", help="only the CPU per write of the writes alone")
    args = parser.parse_args(argv)
    timing = {"duration": args.duration, "warmup": args.warmup, "connections": args.connections}

    rows, floors, gateway = [], [], None
    with BenchCluster(backends=3, gunicorn_workers=4) as bench:
        app = bench.app()
        event_ids = make_events(app, args.events)
        tokens = log_in(bench.replica(0), make_volunteers(app, args.volunteers))
        detail_path = f"/api/events/{event_ids[len(event_ids) // 2]}/"
        try:
            floors = [start_floor(bench.env(0)) for _ in range(4)]
            gateway = Gateway(servers=[port for _process, port in floors[1:]]).start()
            print(
                f"wrk -t2 -c{args.connections} -d{args.duration}s (after a {args.warmup}s warm-up); writes: "
                f"{args.rate:g}/s open loop from {args.volunteers} volunteers over {args.events} events",
                flush=True,
            )
            targets = (
                ("via nginx", gateway.url, bench.gateway),
                ("1 replica direct", f"http://127.0.0.1:{floors[0][1]}/", bench.replica(0)),
            )
            cost = cpu_per_write(bench.gateway, tokens, event_ids, args.rate, args.duration)
            by_program = sorted(cost["per_write_ms"].items(), key=lambda pair: -pair[1])
            print(
                f"writes alone (via nginx): {cost['writes']['rate']:.1f}/s, {cost['total_ms']:.1f} ms of CPU per write"
                f" beyond the idle cluster's {cost['idle_ms_per_s']:.0f} ms per second (the machine has"
                f" {os.cpu_count()} cores: {os.cpu_count() * 1000 / max(args.rate, 1):.0f} ms per write at this rate"
                " is all of it); by program: " + ", ".join(f"{name} {ms:.1f}" for name, ms in by_program if ms >= 0.05),
                flush=True,
            )
            rows.append(row("list_under_writes", "CPU per write, writes alone", cost["total_ms"], "ms"))
            rows.append(row("list_under_writes", "CPU of the idle cluster", cost["idle_ms_per_s"], "ms/s"))
            if args.cost_only:
                targets = ()
            for label, floor_url, base in targets:
                floor = measure(f"floor ({label})", floor_url, **timing)
                for kind, path in (("list", "/api/events/"), ("detail", detail_path)):
                    alone = measure(f"{kind} alone ({label})", base + path, **timing)
                    with OpenLoopWriter(base, tokens, event_ids, args.rate) as writer:
                        time.sleep(2)  # the write load is steady before wrk starts
                        began = time.monotonic()
                        loaded = measure(f"{kind} under writes ({label})", base + path, **timing)
                        writes = writer.summary(time.monotonic() - began + 2)
                    print(
                        f"{'':<40} writes {writes['rate']:.1f}/s, failed {writes['failed']} {writes['statuses']},"
                        f" join p50 {writes['join_p50_ms']:.1f} ms p99 {writes['join_p99_ms']:.1f} ms,"
                        f" leave p99 {writes['leave_p99_ms']:.1f} ms",
                        flush=True,
                    )
                    name = f"{kind} {label}"
                    rows += [
                        row("list_under_writes", f"{name} alone", alone["ok_rps"], "req/s", floor=floor["ok_rps"]),
                        row(
                            "list_under_writes",
                            f"{name} under writes",
                            loaded["ok_rps"],
                            "req/s",
                            floor=floor["ok_rps"],
                        ),
                        row(
                            "list_under_writes",
                            f"{name} throughput under writes / alone",
                            loaded["ok_rps"] / alone["ok_rps"],
                            "x",
                            target=">= 0.85" if kind == "list" else "",
                        ),
                        row("list_under_writes", f"{name} p99 alone", alone["p99_ms"], "ms"),
                        row("list_under_writes", f"{name} p99 under writes", loaded["p99_ms"], "ms"),
                        row(
                            "list_under_writes",
                            f"{name} p99 under writes / alone",
                            loaded["p99_ms"] / alone["p99_ms"],
                            "x",
                            target="<= 1.5" if kind == "list" else "",
                        ),
                        row("list_under_writes", f"{name}: join p99", writes["join_p99_ms"], "ms", target="<= 100 ms"),
                        row("list_under_writes", f"{name}: leave p99", writes["leave_p99_ms"], "ms"),
                        row("list_under_writes", f"{name}: writes failed", writes["failed"], "", target="0"),
                    ]
        finally:
            if gateway is not None:
                gateway.stop()
            for process, _port in floors:
                stop(process)
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
