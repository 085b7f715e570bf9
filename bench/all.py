"""Every benchmark, one after the other (they are heavy: never two at once on this machine), then one table.

    .venv/bin/python bench/all.py [--events 1000000] [--only list_scale,nearby,...] [--json FILE]

`make bench` runs this. Each benchmark starts its own private services and prints its own details as it goes; the
table at the end gathers their figures, each with the floor measured in the same run and the ratio to it where the
benchmark has one (see each benchmark's docstring for what its floor is). About 40 minutes at 1,000,000 events.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# name -> the command line of the benchmark (the events count is added where it applies)
BENCHMARKS = {
    "list_scale": ["list_scale.py"],
    "nearby": ["nearby.py"],
    "http_throughput": ["http_throughput.py"],
    "list_under_writes": ["list_under_writes.py"],
    "mixed": ["mixed.py"],
    "bulk_email": ["bulk_email.py"],
}
SCALED = {"list_scale", "nearby"}


def _number(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def print_table(rows: list[dict]) -> None:
    headers = ("benchmark", "measure", "value", "floor (same run)", "ratio", "target")
    lines = [
        (
            line["bench"],
            line["measure"],
            _number(line["value"], line["unit"]),
            _number(line["floor"], line["unit"]) if line["floor"] else "",
            f"{line['ratio']:.2f}" if line["ratio"] is not None else "",
            line["target"],
        )
        for line in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *lines, strict=True)]
    for cells in (headers, tuple("-" * w for w in widths), *lines):
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events loaded by list_scale and nearby")
    parser.add_argument("--only", help="comma-separated benchmarks to run (default: all)")
    parser.add_argument("--json", help="also write every row to this file")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)

    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="mutiroes-bench-rows-") as folder:
        for name in names:
            output = Path(folder) / f"{name}.json"
            command = [sys.executable, str(BENCH / BENCHMARKS[name][0]), *BENCHMARKS[name][1:], "--json", str(output)]
            if name in SCALED:
                command += ["--events", str(args.events)]
            print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
            started = time.monotonic()
            if subprocess.run(command, cwd=BENCH.parent).returncode != 0 or not output.exists():
                failed.append(name)
                continue
            rows += json.loads(output.read_text())
            print(f"=== {name} took {time.monotonic() - started:.0f} s", flush=True)
    print()
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
