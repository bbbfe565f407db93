#!/usr/bin/env python3
"""Measure the lab's life cycle and data path, and record a table in docs/benchmarks.md.

Figures: lab up from nothing and with the images present, the first converge
of site.yml, the no-change re-run (median of --runs), the tasks each host runs
in a no-change run, the time from a server restart until all its targets are
up (median of --runs), and the scrape duration through the tunnel (p50, p99).

This takes the lab down and rebuilds it, so run it on a machine where losing
the lab's data is fine: python benchmarks/lab_lifecycle.py [--runs 5] [--from-nothing]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROMETHEUS = "http://127.0.0.1:9090"
RECORD = ROOT / "docs" / "benchmarks.md"
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1",
       "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


def timed(command: list[str]) -> tuple[float, str]:
    """Run ``command`` in the project directory; return seconds taken and its output."""
    start = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n"
                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def prometheus(expression: str) -> list[dict[str, Any]]:
    url = f"{PROMETHEUS}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=20) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


def server_targets_up(server: str) -> bool:
    results = prometheus(f'up{{server="{server}"}}')
    return len(results) == 5 and all(r["value"][1] == "1" for r in results)


def recovery_seconds(server: str, container: str) -> float:
    """Restart ``container`` and return the seconds until Prometheus reports its targets up."""
    start = time.monotonic()
    subprocess.run(["docker", "restart", container], check=True, capture_output=True)
    # Targets go down on the next failed scrape; wait for that before waiting for up.
    deadline = time.monotonic() + 60
    while server_targets_up(server) and time.monotonic() < deadline:
        time.sleep(0.5)
    while not server_targets_up(server):
        if time.monotonic() - start > 300:
            sys.exit(f"{server}: targets not up 300 s after the restart")
        time.sleep(0.5)
    return time.monotonic() - start


def tasks_per_host(output: str) -> dict[str, int]:
    """Count the tasks each host ran, from ansible-playbook's PLAY RECAP."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        match = re.match(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+"
                         r"failed=(\d+)\s+skipped=(\d+)", line)
        if match:
            host, ok, _, failed, skipped = match.groups()
            counts[host] = int(ok) + int(failed) + int(skipped)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions for the medians")
    parser.add_argument("--from-nothing", action="store_true",
                        help="also remove the lab images first and time building them")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    playbook = [str(BIN / "ansible-playbook"), "-i", "inventory/lab", "site.yml"]

    if args.from_nothing:
        timed(["whispermon", "lab", "down", "--images"])
        seconds, _ = timed(["whispermon", "lab", "up"])
        rows.append(("lab up from nothing (images built)", f"{seconds:.0f} s"))
    timed(["whispermon", "lab", "down"])
    seconds, _ = timed(["whispermon", "lab", "up"])
    rows.append(("lab up, images present", f"{seconds:.0f} s"))

    seconds, _ = timed(playbook)
    rows.append(("first converge of site.yml", f"{seconds:.0f} s"))

    no_change = []
    output = ""
    for _ in range(args.runs):
        seconds, output = timed(playbook)
        no_change.append(seconds)
    rows.append((f"no-change site.yml run (median of {args.runs})",
                 f"{statistics.median(no_change):.1f} s"))
    for host, count in sorted(tasks_per_host(output).items()):
        rows.append((f"tasks in a no-change run: {host}", str(count)))

    recoveries = [recovery_seconds("server-1", "whispermon-lab-server-1")
                  for _ in range(args.runs)]
    rows.append((f"server restart until its targets are up (median of {args.runs})",
                 f"{statistics.median(recoveries):.1f} s"))

    for quantile in ("0.5", "0.99"):
        result = prometheus(f'quantile({quantile}, quantile_over_time({quantile}, '
                            f'scrape_duration_seconds{{job!="prometheus"}}[15m]))')
        value = float(result[0]["value"][1]) * 1000 if result else float("nan")
        rows.append((f"scrape duration through the tunnel, p{float(quantile) * 100:g}",
                     f"{value:.1f} ms"))

    machine = (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = [f"### Lab life cycle, {stamp}", "", f"Machine: {machine}. Runs: {args.runs}.",
             "Script: `benchmarks/lab_lifecycle.py`.", "", "| figure | value |", "|---|---|"]
    table += [f"| {name} | {value} |" for name, value in rows]
    text = "\n".join(table) + "\n"
    print(text)
    existing = RECORD.read_text() if RECORD.exists() else "# Benchmarks\n"
    RECORD.write_text(existing.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
