"""deploy, drift and doctor on the running lab.

Part of the default scenario's verify step, after the other checks; the
deploy and drift cycle itself is in test_5_drift.py. The tests run in file
order and change the lab: they stop a tunnel and a Celery worker, and restore
each afterwards.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[3]
INVENTORY = str(ROOT / "inventory" / "lab")
WORKSTATION = "whispermon-lab-workstation"
SERVER_1 = "whispermon-lab-server-1"
SERVER_2 = "whispermon-lab-server-2"


def _lab_running() -> bool:
    try:
        result = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Running}}", WORKSTATION],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == "true"


@pytest.fixture(scope="module", autouse=True)
def lab_required() -> None:
    if not _lab_running():
        pytest.skip(
            f"the lab is not up ('docker inspect {WORKSTATION}' found no running "
            "container); start it with 'whispermon lab up'"
        )


def _whispermon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["whispermon", "--no-color", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )


def _json(env: dict[str, str], command: str) -> tuple[int, dict[str, Any]]:
    result = _whispermon(env, command, "-i", INVENTORY, "--json")
    assert result.stdout.strip(), f"{command} printed no JSON:\n{result.stderr}"
    data: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, data


def _exec(container: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", container, *command], capture_output=True, text=True, timeout=120
    )


def _doctor_until(
    env: dict[str, str], accept: Callable[[int, dict[str, Any]], bool], attempts: int = 8
) -> tuple[int, dict[str, Any]]:
    """Run doctor until ``accept`` is true (Prometheus needs a scrape or two to see a change)."""
    code, data = _json(env, "doctor")
    for _ in range(attempts - 1):
        if accept(code, data):
            break
        time.sleep(15)
        code, data = _json(env, "doctor")
    return code, data


def _failing(data: dict[str, Any]) -> list[str]:
    return [
        f"{c['name']} ({c['host']}): {c['detail']}" for c in data["checks"] if c["status"] == "fail"
    ]


def test_doctor_passes_on_lab(tool_env: dict[str, str]) -> None:
    code, data = _doctor_until(tool_env, lambda code, data: code == 0)
    assert code == 0, _failing(data)
    assert {c["check"] for c in data["checks"]} >= {
        "tunnel",
        "forward",
        "prometheus_ready",
        "target",
        "flower_events",
    }


def test_doctor_fails_when_tunnel_stopped(tool_env: dict[str, str]) -> None:
    unit = "whispermon-tunnel-server-2.service"
    stopped = _exec(WORKSTATION, "systemctl", "stop", unit)
    assert stopped.returncode == 0, stopped.stderr
    try:
        code, data = _json(tool_env, "doctor")
        assert code == 1
        tunnel = next(
            c
            for c in data["checks"]
            if c["check"] == "tunnel" and c["name"] == "tunnel to server-2"
        )
        assert tunnel["status"] == "fail"
        assert f"systemctl restart {unit}" in tunnel["fix"]
        forwards = [
            c for c in data["checks"] if c["check"] == "forward" and "server-2" in c["name"]
        ]
        assert forwards
        assert all(c["status"] == "fail" for c in forwards)
    finally:
        _exec(WORKSTATION, "systemctl", "start", unit)
    code, data = _doctor_until(tool_env, lambda code, data: code == 0)
    assert code == 0, _failing(data)


def test_doctor_fails_without_flower_task_events(tool_env: dict[str, str]) -> None:
    # Without a worker nothing sends task events, and a restarted Flower has
    # no flower_events_total series until one arrives.
    assert _exec(SERVER_1, "systemctl", "stop", "pipeline-worker.service").returncode == 0
    try:
        assert _exec(SERVER_1, "systemctl", "restart", "pipeline-flower.service").returncode == 0

        def flower_failing(code: int, data: dict[str, Any]) -> bool:
            return any(
                c["name"] == "Flower task events of server-1" and c["status"] == "fail"
                for c in data["checks"]
            )

        code, data = _doctor_until(tool_env, flower_failing)
        assert code == 1
        check = next(c for c in data["checks"] if c["name"] == "Flower task events of server-1")
        assert check["status"] == "fail", _failing(data)
        assert "-E" in check["fix"]
    finally:
        _exec(SERVER_1, "systemctl", "start", "pipeline-worker.service")
    code, data = _doctor_until(tool_env, lambda code, data: code == 0)
    assert code == 0, _failing(data)
