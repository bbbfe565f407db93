"""Nothing listens where it should not, the tunnel key only forwards, secrets stay secret."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import CONTAINER, SERVERS, docker_exec, lab_state_dir

STATE = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "whispermon"


def _listeners(host: str) -> list[tuple[str, str]]:
    lines = docker_exec(host, "ss", "-ltnpH", check=True).stdout.splitlines()
    found = []
    for line in lines:
        fields = line.split()
        address, _, port = fields[3].rpartition(":")
        found.append((address.strip("[]").split("%")[0], port + " " + " ".join(fields[5:])))
    return found


@pytest.mark.parametrize("server", SERVERS)
def test_server_listens_on_loopback_except_sshd(server: str) -> None:
    for address, detail in _listeners(server):
        if address in ("*", "0.0.0.0", "::") and detail.startswith("22 ") and "sshd" in detail:
            continue
        assert ipaddress.ip_address(address).is_loopback, f"{server}: {address}:{detail}"


def test_monitoring_ports_published_on_loopback() -> None:
    result = subprocess.run(
        ["docker", "ps", "--filter", "label=com.docker.compose.project=whispermon-lab",
         "--format", "{{.Names}} {{.Ports}}"], capture_output=True, text=True, check=True)
    assert result.stdout.strip(), "no monitoring stack containers found"
    for line in result.stdout.splitlines():
        for binding in re.findall(r"([0-9a-f.:\[\]]+):\d+->", line):
            assert binding == "127.0.0.1", f"published beyond loopback: {line}"


def _tunnel_ssh_options() -> tuple[str, list[str]]:
    """Return the tunnel's unit user and the identity and known_hosts options autossh uses."""
    unit = "whispermon-tunnel-server-1.service"
    show = docker_exec("workstation", "systemctl", "show", "-p", "User", "-p", "ExecStart",
                       unit, check=True).stdout
    user = re.search(r"^User=(.*)$", show, re.M)
    identity = re.search(r"(?:-i |IdentityFile=)(\S+)", show)
    known = re.search(r"UserKnownHostsFile=(\S+)", show)
    assert user and identity and known, f"cannot read the tunnel options from {unit}:\n{show}"
    return user.group(1), ["-i", identity.group(1), "-o", f"UserKnownHostsFile={known.group(1)}"]


def _tunnel_ssh(*options: str, command: str = "", stdin: str = ""
                ) -> subprocess.CompletedProcess[str]:
    """Run ssh on the workstation as the tunnel's user with the tunnel's key to server-1.

    ``stdin`` is written to ssh and kept open for two seconds more, because a
    server may drop a connection whose client half-closes before the reply.
    """
    user, tunnel_options = _tunnel_ssh_options()
    argv = ["ssh", *tunnel_options, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", *options,
            "whispermon-tunnel@whispermon-lab-server-1"]
    if command:
        argv.append(command)
    script = '(printf "%s" "$0"; sleep 2) | "$@"' if stdin else '"$@" </dev/null'
    return subprocess.run(
        ["docker", "exec", "-u", user, CONTAINER["workstation"], "sh", "-c", script, stdin,
         *argv], capture_output=True, text=True, timeout=60)


def test_tunnel_key_runs_no_command() -> None:
    result = _tunnel_ssh(command="echo whispermon-command-ran")
    assert "whispermon-command-ran" not in result.stdout


def test_tunnel_key_gets_no_tty() -> None:
    result = _tunnel_ssh("-tt")
    assert "PTY allocation request failed" in result.stderr or result.returncode != 0


def test_tunnel_key_forwards_listed_port() -> None:
    result = _tunnel_ssh("-W", "127.0.0.1:8000", stdin="GET /metrics HTTP/1.0\r\n\r\n")
    assert result.stdout.startswith("HTTP/1."), result.stderr


@pytest.mark.parametrize("target", ["127.0.0.1:6379", "127.0.0.1:5432", "127.0.0.1:22"])
def test_tunnel_key_rejects_other_targets(target: str) -> None:
    result = _tunnel_ssh("-W", target, stdin="PING\r\n")
    assert not result.stdout, f"{target} answered through the tunnel: {result.stdout[:80]!r}"
    assert "prohibited" in result.stderr or "open failed" in result.stderr, result.stderr


def _container_ip(host: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "--format",
         "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", CONTAINER[host]],
        capture_output=True, text=True, check=True).stdout.split()[0]


@pytest.mark.parametrize("server", SERVERS)
def test_ssh_audit_no_failures(server: str) -> None:
    result = subprocess.run(["ssh-audit", "-n", _container_ip(server)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode in (0, 2), f"ssh-audit failures on {server}:\n{result.stdout}"
    assert "[fail]" not in result.stdout, result.stdout


def _secrets(lab: dict[str, Any]) -> list[str]:
    return [lab["secrets"]["postgres_password"], lab["secrets"]["redis_password"]]


def test_secrets_absent_from_runner_artifacts(lab: dict[str, Any]) -> None:
    runs = STATE / "runs"
    files = [p for p in runs.rglob("*") if p.is_file()] if runs.exists() else []
    for path in files:
        data = path.read_bytes()
        for secret in _secrets(lab):
            assert secret.encode() not in data, f"a lab secret is in {path}"


def test_secrets_absent_from_process_lists(lab: dict[str, Any]) -> None:
    listings = [subprocess.run(["ps", "auxww"], capture_output=True, text=True).stdout]
    for host in CONTAINER:
        listings.append(docker_exec(host, "ps", "auxww").stdout)
    for listing in listings:
        for secret in _secrets(lab):
            assert secret not in listing, "a lab secret is on a command line"


@pytest.mark.parametrize("server", SERVERS)
def test_secrets_not_in_world_readable_files(server: str, lab: dict[str, Any]) -> None:
    for secret in _secrets(lab):
        found = docker_exec(server, "sh", "-c",
                            "find /etc /opt /var/lib/prometheus /srv -xdev -type f -perm -o+r "
                            "-print0 2>/dev/null | xargs -0 grep -lF -e \"$0\" 2>/dev/null",
                            secret)
        assert not found.stdout.strip(), f"{server}: secret readable by others in {found.stdout}"


def test_secrets_not_in_world_readable_stack_files(lab: dict[str, Any]) -> None:
    for path in (lab_state_dir() / "monitoring").rglob("*"):
        if path.is_file() and path.stat().st_mode & 0o004:
            data = path.read_bytes()
            for secret in _secrets(lab):
                assert secret.encode() not in data, f"secret readable by others in {path}"
