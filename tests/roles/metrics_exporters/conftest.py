"""Helpers that run parts of the metrics_exporters role on the controller."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
ROLE = REPO / "roles" / "metrics_exporters"

POSTGRES_PASSWORD = "p@ss:w/rd?#%&+= x<&>\"'"
REDIS_PASSWORD = "r3d \"q\" 'sq' \\ $HOME `id` %41 p@ss:w/rd?#&+=;<>&"

PORTS = {
    "fastapi": {"local": 8000, "remote": 8000, "path": "/metrics"},
    "flower": {"local": 5555, "remote": 5555, "path": "/metrics"},
    "postgres": {"local": 9187, "remote": 9187, "path": "/metrics"},
    "redis": {"local": 9121, "remote": 9121, "path": "/metrics"},
    "host": {"local": 9182, "remote": 9182, "path": "/metrics"},
}

GOOD: dict[str, Any] = {
    "whispermon_port_map": {"localhost": {"index": 0, "ports": PORTS}},
    "metrics_exporters_postgres_password": POSTGRES_PASSWORD,
    "metrics_exporters_redis_password": REDIS_PASSWORD,
}


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def run_playbook(
    playbook: Path, overrides: dict[str, Any], stdout_callback: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a playbook on localhost, a member of whisper_servers, with GOOD plus overrides."""
    extra = {**copy.deepcopy(GOOD), **overrides, "ansible_python_interpreter": sys.executable}
    env = ansible_env()
    if stdout_callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = stdout_callback
    return subprocess.run(
        [
            "ansible-playbook", "-i", str(HERE / "inventory.yml"), "-c", "local",
            "-e", json.dumps(extra), str(playbook),
        ],
        cwd=REPO, env=env,
        capture_output=True, text=True, timeout=600, check=False,
    )


def run_role_tasks(
    tasks_from: str, overrides: dict[str, Any], stdout_callback: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one task file of the role on localhost."""
    return run_playbook(
        HERE / "role_tasks.yml", {"wm_tasks_from": tasks_from, **overrides}, stdout_callback
    )
