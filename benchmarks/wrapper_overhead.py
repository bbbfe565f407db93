#!/usr/bin/env python3
"""Measure what ``whispermon deploy`` adds to a no-change run of site.yml.

Runs ``whispermon deploy`` and plain ``ansible-playbook site.yml`` against the
same inventory, alternating which goes first in each round so that a slow
phase of the machine hits both equally. Every measured run must change
nothing, and a converging run first makes sure of that. Each run is measured
twice: wall-clock seconds, and the CPU seconds (user plus system) of the whole
process tree, which the lab's own background work disturbs far less. Prints
the medians and their ratios, and appends a row (date, commit, machine, run
count) to the "Wrapper overhead" table in docs/benchmarks.md.

Usage (lab up): .venv/bin/python benchmarks/wrapper_overhead.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from record import commit, describe_machine

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SECTION = "## Wrapper overhead"
TABLE_HEADER = (
    "| date (UTC) | commit | machine | runs | ansible-playbook wall (s) | whispermon deploy "
    "wall (s) | wall overhead | ansible-playbook CPU (s) | whispermon deploy CPU (s) "
    "| CPU overhead |\n"
    "|---|---|---|---|---|---|---|---|---|---|\n"
)
RECAP = re.compile(r"^\S+\s+: ok=\d+\s+changed=(\d+)", re.MULTILINE)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["NO_COLOR"] = "1"
    return env


def _state_runs_dir(env: dict[str, str]) -> Path:
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "whispermon" / "runs"


def _changed_in_last_deploy(env: dict[str, str]) -> int:
    """Sum the changed counts of the newest whispermon deploy run's recap."""
    runs = sorted(_state_runs_dir(env).glob("*-deploy"))
    if not runs:
        raise SystemExit("no whispermon deploy run directory found")
    for event_file in sorted(runs[-1].glob("artifacts/*/job_events/*.json")):
        event = json.loads(event_file.read_text())
        if event.get("event") == "playbook_on_stats":
            return sum((event["event_data"].get("changed") or {}).values())
    raise SystemExit(f"no recap in {runs[-1]}")


class Measurement(NamedTuple):
    """Wall-clock and CPU seconds of one run."""

    wall: float
    cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict[str, str]) -> tuple[Measurement, str]:
    """Run ``command`` in the project and return its measurement and output. Exit on failure.

    The CPU figure covers every descendant that was waited for: ansible-playbook,
    its forks and their ``docker exec`` clients, and whispermon itself.
    """
    cpu_before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    measurement = Measurement(time.perf_counter() - started, _children_cpu() - cpu_before)
    if result.returncode != 0:
        raise SystemExit(f"{Path(command[0]).name} failed:\n{result.stdout}\n{result.stderr}")
    return measurement, result.stdout


def _no_change(name: str, changed: int) -> None:
    if changed:
        raise SystemExit(f"{name} changed {changed} task(s), so the run was not a no-change run")


def run_whispermon(inventory: str, env: dict[str, str]) -> Measurement:
    """Measure one ``whispermon deploy`` and check that it changed nothing."""
    command = [str(BIN / "whispermon"), "--no-color", "deploy", "-i", inventory]
    measurement, _ = _timed(command, env)
    _no_change("whispermon deploy", _changed_in_last_deploy(env))
    return measurement


def run_ansible_playbook(inventory: str, env: dict[str, str]) -> Measurement:
    """Measure one plain ``ansible-playbook site.yml`` and check that it changed nothing."""
    measurement, output = _timed([str(BIN / "ansible-playbook"), "-i", inventory, "site.yml"], env)
    _no_change("ansible-playbook", sum(int(count) for count in RECAP.findall(output)))
    return measurement


def summarize(values: list[float]) -> str:
    """Format the median with the range, e.g. ``80.7 (79.9-84.0)``."""
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def append_row(path: Path, row: str) -> None:
    """Append ``row`` to the Wrapper overhead table, creating the section if needed."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if SECTION not in text:
        text = text.rstrip("\n") + (
            f"\n\n{SECTION}\n\n"
            "A no-change `site.yml` run on the lab through `whispermon deploy` and through plain "
            "`ansible-playbook`, alternating, measured by `benchmarks/wrapper_overhead.py`: "
            "medians with the range in brackets. CPU is user plus system time of the whole "
            "process tree. Goal: under 5 % overhead.\n\n" + TABLE_HEADER
        )
        text += row
    else:
        head, tail = text.split(SECTION, 1)
        # The section's table ends at the first blank line after its header row.
        table_end = tail.find("\n\n", tail.find("|---"))
        if table_end == -1:
            tail = tail.rstrip("\n") + "\n" + row
        else:
            tail = tail[:table_end] + "\n" + row.rstrip("\n") + tail[table_end:]
        text = head + SECTION + tail
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each (default 5)")
    parser.add_argument("--inventory", default="inventory/lab", help="inventory to run against")
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="Markdown file that gets the table row",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    env = _environment()

    print("Converging once so that the measured runs change nothing ...", flush=True)
    subprocess.run(
        [str(BIN / "whispermon"), "--no-color", "deploy", "-i", args.inventory],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )

    wrapper: list[Measurement] = []
    plain: list[Measurement] = []
    for round_number in range(args.runs):
        order = ["whispermon", "plain"] if round_number % 2 == 0 else ["plain", "whispermon"]
        for which in order:
            if which == "whispermon":
                wrapper.append(run_whispermon(args.inventory, env))
            else:
                plain.append(run_ansible_playbook(args.inventory, env))
        print(
            f"round {round_number + 1}: whispermon {wrapper[-1].wall:.1f} s "
            f"(CPU {wrapper[-1].cpu:.1f} s), ansible-playbook {plain[-1].wall:.1f} s "
            f"(CPU {plain[-1].cpu:.1f} s)",
            flush=True,
        )

    cells = []
    for field in ("wall", "cpu"):
        plain_values = [getattr(run, field) for run in plain]
        wrapper_values = [getattr(run, field) for run in wrapper]
        ratio = statistics.median(wrapper_values) / statistics.median(plain_values)
        cells += [summarize(plain_values), summarize(wrapper_values), f"{(ratio - 1) * 100:+.1f} %"]
        print(
            f"{field} median: whispermon deploy {summarize(wrapper_values)} s, "
            f"ansible-playbook {summarize(plain_values)} s, ratio {ratio:.3f}"
        )
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {commit()} | {describe_machine()} | "
        f"{args.runs} | {' | '.join(cells)} |\n"
    )
    append_row(args.output, row)
    print(f"appended the row to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
