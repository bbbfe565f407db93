"""Helpers for the end-to-end checks against the running lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[3]
PROMETHEUS = os.environ.get("WHISPERMON_LAB_PROMETHEUS", "http://127.0.0.1:9090")
SERVERS = ("server-1", "server-2")
COMPONENTS = ("fastapi", "flower", "postgres", "redis", "host")
CONTAINER = {name: f"whispermon-lab-{name}" for name in (*SERVERS, "workstation")}


def lab_state_dir() -> Path:
    """Return the lab's state directory, as `whispermon lab up` and inventory/lab compute it."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(os.environ.get("WHISPERMON_LAB_STATE", f"{base}/whispermon/lab"))


def lab_record() -> dict[str, Any]:
    record: dict[str, Any] = json.loads((lab_state_dir() / "lab.json").read_text())
    return record


def prometheus_get(path: str, **params: str) -> Any:
    """GET a Prometheus API path and return its ``data`` member."""
    url = f"{PROMETHEUS}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=20) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def query(expression: str, at: float | None = None) -> list[dict[str, Any]]:
    """Evaluate ``expression`` now, or at the Unix time ``at``."""
    params = {"query": expression}
    if at is not None:
        params["time"] = f"{at:.3f}"
    result: list[dict[str, Any]] = prometheus_get("/api/v1/query", **params)["result"]
    return result


def targets() -> list[dict[str, Any]]:
    active: list[dict[str, Any]] = prometheus_get("/api/v1/targets", state="active")[
        "activeTargets"]
    return active


def wait_until(check: Callable[[], Any], seconds: float, interval: float = 3) -> Any:
    """Call ``check`` until it returns a true value or ``seconds`` pass; return the last value."""
    deadline = time.monotonic() + seconds
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value


def all_targets_up() -> bool:
    current = targets()
    return len(current) == len(SERVERS) * len(COMPONENTS) + 1 and all(
        target["health"] == "up" for target in current)


def down_targets() -> list[str]:
    return [f"{t['labels'].get('instance')}: {t.get('lastError')}" for t in targets()
            if t["health"] != "up"]


def docker_exec(host: str, *command: str, check: bool = False
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", CONTAINER[host], *command], capture_output=True,
                          text=True, timeout=120, check=check)


def whispermon(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the whispermon CLI of this environment from the project directory."""
    binary = Path(sys.executable).parent / "whispermon"
    return subprocess.run([str(binary), *args], cwd=PROJECT, capture_output=True, text=True,
                          timeout=1800, env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture(scope="session")
def tool_env() -> dict[str, str]:
    """Environment for the whispermon CLI: this venv's tools first, no colour."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "NO_COLOR": "1"}


@pytest.fixture(scope="session")
def lab() -> dict[str, Any]:
    return lab_record()


@pytest.fixture(scope="session", autouse=True)
def targets_up_at_start() -> None:
    up = wait_until(all_targets_up, 120)
    assert up, f"targets not up before the checks: {down_targets()}"
