"""The tunnels recover without help from a server restart and a killed ssh child."""

from __future__ import annotations

import subprocess

from conftest import CONTAINER, all_targets_up, docker_exec, down_targets, wait_until, whispermon


def test_server_restart_recovers() -> None:
    subprocess.run(["docker", "restart", CONTAINER["server-1"]], check=True, timeout=120)
    assert wait_until(all_targets_up, 60, 2), f"still down after 60 s: {down_targets()}"


def test_killed_ssh_child_recovers() -> None:
    killed = docker_exec("workstation", "pkill", "-x", "ssh")
    assert killed.returncode == 0, "no ssh process to kill on the workstation"
    assert wait_until(all_targets_up, 60, 2), f"still down after 60 s: {down_targets()}"


def test_doctor_passes_after_faults() -> None:
    # NOTE: right after a killed ssh child the units were once seen in a second
    # auto-restart cycle for about a minute, so the doctor gets a few tries.
    result = wait_until(lambda: whispermon("doctor", "-i", "inventory/lab").returncode == 0,
                        120, 15)
    assert result, "doctor still failing 120 s after the faults"
    final = whispermon("doctor", "-i", "inventory/lab")
    assert final.returncode == 0, f"doctor failed:\n{final.stdout}\n{final.stderr}"
