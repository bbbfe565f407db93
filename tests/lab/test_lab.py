"""The lab's life cycle through the CLI: up, up again, status, down.

These tests start real containers with systemd, PostgreSQL, Redis and the
stand-in pipeline, so they need a Docker engine (scripts/bootstrap starts one).
The tests run in file order: the last one takes the lab down.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

SERVERS = ("whispermon-lab-server-1", "whispermon-lab-server-2")
WORKSTATION = "whispermon-lab-workstation"
LABEL = "io.whispermon.lab.owner=lab"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["whispermon", *args], env=env, capture_output=True, text=True,
                          timeout=1800)


def _exec(container: str, *command: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    options = [item for key, value in (env or {}).items() for item in ("-e", f"{key}={value}")]
    return subprocess.run(["docker", "exec", *options, container, *command],
                          capture_output=True, text=True, timeout=120)


def _container_ids() -> list[str]:
    result = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"label={LABEL}"],
                            capture_output=True, text=True, check=True)
    return sorted(result.stdout.split())


@pytest.fixture(scope="module")
def lab(tool_env: dict[str, str]) -> dict[str, Any]:
    result = _cli(tool_env, "lab", "up")
    assert result.returncode == 0, f"lab up failed:\n{result.stdout}\n{result.stderr}"
    state = Path(tool_env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    record: dict[str, Any] = json.loads((state / "whispermon" / "lab" / "lab.json").read_text())
    return record


def test_systemd_running_everywhere(lab: dict[str, Any]) -> None:
    for container in (*SERVERS, WORKSTATION):
        state = _exec(container, "systemctl", "is-system-running").stdout.strip()
        assert state == "running", f"{container}: systemd state {state!r}"


@pytest.mark.parametrize("port", ["8000", "5555"])
def test_stand_in_metrics_answer(lab: dict[str, Any], port: str) -> None:
    for container in SERVERS:
        result = _exec(container, "curl", "-fsS", "-o", "/dev/null", "-w", "%{http_code}",
                       f"http://127.0.0.1:{port}/metrics")
        assert result.stdout == "200", f"{container}:{port}: {result.stdout} {result.stderr}"


def test_postgres_accepts_monitor_login(lab: dict[str, Any]) -> None:
    password = lab["secrets"]["postgres_password"]
    for container in SERVERS:
        result = _exec(container, "psql", "-h", "127.0.0.1", "-U", "whispermon", "-d", "whisper",
                       "-tAc", "SELECT 1", env={"PGPASSWORD": password})
        assert result.stdout.strip() == "1", f"{container}: {result.stderr}"


def test_redis_requires_and_accepts_password(lab: dict[str, Any]) -> None:
    password = lab["secrets"]["redis_password"]
    for container in SERVERS:
        denied = _exec(container, "redis-cli", "-h", "127.0.0.1", "ping")
        assert "NOAUTH" in denied.stdout + denied.stderr, f"{container}: no password required"
        allowed = _exec(container, "redis-cli", "-h", "127.0.0.1", "ping",
                        env={"REDISCLI_AUTH": password})
        assert allowed.stdout.strip() == "PONG", f"{container}: {allowed.stderr}"


def test_stand_in_listens_on_loopback_only(lab: dict[str, Any]) -> None:
    for container in SERVERS:
        listeners = _exec(container, "ss", "-ltnH").stdout.split("\n")
        for line in filter(None, listeners):
            local = line.split()[3]
            host, _, port = local.rpartition(":")
            if port == "22":
                continue  # sshd is meant to be reachable; the roles harden it
            address = ipaddress.ip_address(host.strip("[]").split("%")[0])
            assert address.is_loopback, f"{container} listens on {local}"


def test_workstation_publishes_tunnel_ports(lab: dict[str, Any]) -> None:
    result = subprocess.run(["docker", "port", WORKSTATION], capture_output=True, text=True,
                            check=True)
    published = {line.split(" -> ")[1] for line in result.stdout.splitlines()}
    gateway = lab["bridge_gateway"]
    for port in (8000, 5555, 9187, 9121, 9182, 19000, 19001, 19002, 19003, 19004):
        assert f"{gateway}:{port}" in published, f"port {port} not published on {gateway}"


def test_second_up_changes_nothing(lab: dict[str, Any], tool_env: dict[str, str]) -> None:
    before = _container_ids()
    result = _cli(tool_env, "lab", "up")
    assert result.returncode == 0, result.stderr
    assert "nothing changed" in result.stdout
    assert _container_ids() == before


def test_status_reports_grafana(lab: dict[str, Any], tool_env: dict[str, str]) -> None:
    result = _cli(tool_env, "lab", "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    names = {row["name"] for row in status["containers"]}
    assert {*SERVERS, WORKSTATION} <= names
    assert status["grafana_image"] == lab["images"]["grafana"]


def test_down_removes_all_lab_objects(lab: dict[str, Any], tool_env: dict[str, str]) -> None:
    # A container someone else started from a lab image inherits the image's
    # labels; lab down must leave it alone.
    foreign = "whispermon-test-not-the-labs"
    subprocess.run(["docker", "rm", "-f", foreign], capture_output=True)
    subprocess.run(["docker", "run", "-d", "--name", foreign, "--entrypoint", "sleep",
                    lab["images"]["base"], "300"], capture_output=True, check=True)
    try:
        result = _cli(tool_env, "lab", "down")
        survived = subprocess.run(["docker", "inspect", foreign], capture_output=True)
    finally:
        subprocess.run(["docker", "rm", "-f", foreign], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert survived.returncode == 0, "lab down removed a container the lab did not create"
    assert _container_ids() == []
    for kind in ("network", "volume"):
        left = subprocess.run(["docker", kind, "ls", "-q", "--filter", f"label={LABEL}"],
                              capture_output=True, text=True, check=True).stdout.split()
        assert left == [], f"{kind}s left behind: {left}"
    images = subprocess.run(["docker", "images", "-q", "whispermon-lab/base"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert images, "lab down removed the base image; only --images should"
