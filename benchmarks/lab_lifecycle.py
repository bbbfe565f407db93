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
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from record import commit, describe_machine

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROMETHEUS = "http://127.0.0.1:9090"
RECORD = ROOT / "docs" / "benchmarks.md"
ENV = {
    **os.environ,
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "NO_COLOR": "1",
    "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
}


def timed(command: list[str]) -> tuple[float, str]:
    """Run ``command`` in the project directory; return seconds taken and its output."""
    start = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(
            f"{' '.join(command)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return elapsed, result.stdout


def prometheus(expression: str) -> list[dict[str, Any]]:
    url = f"{PROMETHEUS}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=20) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


def recovered_since(server: str, since: float) -> bool:
    """Check whether all five of ``server``'s targets were scraped successfully after ``since``.

    The sample timestamps matter, not just ``up``, because right after a
    restart ``up`` still shows the last scrape from before it.
    """
    values = [r["value"][1] for r in prometheus(f'up{{server="{server}"}}')]
    stamps = [float(r["value"][1]) for r in prometheus(f'timestamp(up{{server="{server}"}})')]
    return (
        len(values) == 5
        and all(v == "1" for v in values)
        and len(stamps) == 5
        and all(stamp > since for stamp in stamps)
    )


def recovery_seconds(server: str, container: str) -> float:
    """Restart ``container`` and return the seconds until all its targets are scraped again."""
    start = time.monotonic()
    subprocess.run(["docker", "restart", container], check=True, capture_output=True)
    restarted = time.time()
    while not recovered_since(server, restarted):
        if time.monotonic() - start > 300:
            sys.exit(f"{server}: targets not up 300 s after the restart")
        time.sleep(0.5)
    return time.monotonic() - start


def scrape_quantiles(window: str) -> dict[str, float]:
    """Return p50 and p99 of every tunnel scrape's duration in ``window``, over the raw samples."""
    result = prometheus(f'scrape_duration_seconds{{job!="prometheus"}}[{window}]')
    samples = sorted(float(value) for series in result for _, value in series["values"])
    if not samples:
        return {}
    quantiles = {
        name: samples[min(len(samples) - 1, int(q * len(samples)))]
        for name, q in (("p50", 0.5), ("p99", 0.99))
    }
    return quantiles | {"count": float(len(samples))}


def tasks_per_host(output: str) -> dict[str, int]:
    """Count the tasks each host ran, from ansible-playbook's PLAY RECAP."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        match = re.match(
            r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+"
            r"failed=(\d+)\s+skipped=(\d+)",
            line,
        )
        if match:
            host, ok, _, failed, skipped = match.groups()
            counts[host] = int(ok) + int(failed) + int(skipped)
    return counts


def task_profile(output: str) -> list[tuple[str, float]]:
    """Parse each task's wall time from the ansible.posix.profile_tasks summary, longest first."""
    profile = []
    for line in output.splitlines():
        match = re.match(r"^(\S.*?) -{3,} (\d+\.\d+)s$", line)
        if match:
            profile.append((match.group(1), float(match.group(2))))
    return sorted(profile, key=lambda item: item[1], reverse=True)


def role_totals(profile: list[tuple[str, float]]) -> list[tuple[str, float, int]]:
    """Sum the task times per role ("role : task"). Tasks outside roles count as "(play)"."""
    totals: dict[str, tuple[float, int]] = {}
    for name, seconds in profile:
        role = name.split(" : ", 1)[0] if " : " in name else "(play)"
        spent, count = totals.get(role, (0.0, 0))
        totals[role] = (spent + seconds, count + 1)
    return sorted(
        ((role, spent, count) for role, (spent, count) in totals.items()),
        key=lambda item: item[1],
        reverse=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions for the medians")
    parser.add_argument(
        "--from-nothing",
        action="store_true",
        help="also remove the lab images first and time building them",
    )
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    playbook = [str(BIN / "ansible-playbook"), "-i", "inventory/lab", "site.yml"]

    if args.from_nothing:
        timed(["whispermon", "lab", "down", "--images"])
        seconds, _ = timed(["whispermon", "lab", "up"])
        rows.append(("lab up from nothing (all images built)", f"{seconds:.0f} s"))
    # Cold start with only the base image present, so the server and Prometheus
    # images are built again.
    timed(["whispermon", "lab", "down"])
    timed(["docker", "rmi", "whispermon-lab/server:bookworm", "whispermon-lab/prometheus:debian"])
    seconds, _ = timed(["whispermon", "lab", "up"])
    rows.append(
        ("lab up, base image present (server and Prometheus images built)", f"{seconds:.0f} s")
    )
    timed(["whispermon", "lab", "down"])
    seconds, _ = timed(["whispermon", "lab", "up"])
    rows.append(("lab up, images present", f"{seconds:.0f} s"))

    seconds, _ = timed(playbook)
    rows.append(("first converge of site.yml", f"{seconds:.0f} s"))
    steady_since = time.monotonic()

    no_change = []
    output = ""
    for _ in range(args.runs):
        seconds, output = timed(playbook)
        no_change.append(seconds)
    rows.append(
        (f"no-change site.yml run (median of {args.runs})", f"{statistics.median(no_change):.1f} s")
    )
    for host, count in sorted(tasks_per_host(output).items()):
        rows.append((f"tasks in a no-change run: {host}", str(count)))

    # Only steady-state scrapes count. The window starts after the first converge and
    # ends before the restarts below, whose failed scrapes would skew p99.
    window = max(60, min(900, int(time.monotonic() - steady_since)))
    quantiles = scrape_quantiles(f"{window}s")
    for name in ("p50", "p99"):
        value = f"{quantiles[name] * 1000:.1f} ms" if quantiles else "no samples"
        rows.append(
            (
                f"scrape duration through the tunnel, {name} "
                f"({quantiles.get('count', 0):.0f} scrapes in {window} s)",
                value,
            )
        )

    recoveries = [recovery_seconds("server-1", "whispermon-lab-server-1") for _ in range(args.runs)]
    rows.append(
        (
            f"server restart until its targets are scraped again (median of {args.runs})",
            f"{statistics.median(recoveries):.1f} s",
        )
    )

    # One more no-change run, not counted above, with the profiling callback on.
    ENV["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    ENV["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "all"
    profiled_seconds, output = timed(playbook)
    profile = task_profile(output)

    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = [
        f"## Lab life cycle, {stamp}",
        "",
        f"Machine: {describe_machine()}. Commit: {commit()}. Runs: {args.runs}.",
        "Script: `benchmarks/lab_lifecycle.py`.",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    table += [f"| {name} | {value} |" for name, value in rows]
    table += [
        "",
        f"Where a profiled no-change run spends its {profiled_seconds:.0f} s "
        f"({sum(seconds for _, seconds in profile):.0f} s in tasks), per role:",
        "",
        "| role | tasks | seconds |",
        "|---|---|---|",
    ]
    table += [f"| {role} | {count} | {spent:.1f} |" for role, spent, count in role_totals(profile)]
    table += ["", "The ten longest tasks:", "", "| task | seconds |", "|---|---|"]
    table += [f"| {name} | {seconds:.1f} |" for name, seconds in profile[:10]]
    text = "\n".join(table) + "\n"
    print(text)
    existing = RECORD.read_text() if RECORD.exists() else "# Benchmarks\n"
    RECORD.write_text(existing.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
