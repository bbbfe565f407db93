"""Ctrl-C during a run stops ansible-playbook and its children and exits 130."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from cli_support import FixtureProject

WHISPERMON = Path(sys.executable).parent / "whispermon"


def _processes_running(argv: list[str]) -> list[int]:
    wanted = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_bytes() == wanted:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait_for(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_ctrl_c_cancels_run_and_exits_130(fixture_project: FixtureProject) -> None:
    # A duration no other process uses, so the check below finds only ours.
    duration = f"{1000 + secrets.randbelow(9000)}.{100 + secrets.randbelow(900)}"
    env = dict(os.environ, WHISPERMON_FIXTURE_SLEEP=duration)
    sleep_argv = ["sleep", duration]
    process = subprocess.Popen(
        [str(WHISPERMON), "deploy", "--tags", "slow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert _wait_for(lambda: _processes_running(sleep_argv), 300), (
            "the playbook's sleep command never started"
        )
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stdout + stderr
    assert "Cancelled: ansible-playbook was stopped" in stderr
    assert "Traceback" not in stderr
    assert _wait_for(lambda: not _processes_running(sleep_argv), 30), (
        "the playbook's sleep command survived the cancel"
    )
