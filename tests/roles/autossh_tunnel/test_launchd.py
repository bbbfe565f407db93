"""macOS branch of autossh_tunnel, checked offline on Linux.

The role's launchd task files run against localhost with fake ``launchctl``
and ``plutil`` first on PATH (see ``fakebin/``). The fake launchctl records
every call, so the tests check the command sequence; the rendered plists are
loaded with plistlib. One test runs the plist's ProgramArguments with Linux's
autossh against a lab container to prove the arguments open a tunnel.

Only a real Mac can check that launchd accepts the job, that ``plutil -lint``
passes, that Homebrew's ``brew --prefix`` and ``brew install`` behave as
expected, and daemon mode's privileges.
"""

from __future__ import annotations

import json
import os
import plistlib
import pwd
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
PLAYBOOK = HERE / "launchd.yml"
FAKEBIN = HERE / "fakebin"
PREFIX = "/opt/homebrew"
LABEL_PREFIX = "io.whispermon.tunnel."
SERVERS = ["mac-server-1", "mac-server-2"]
FAKE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnR8Ep7HmdlXkXbC5v0Ab4aBq2t8E3oPnqTmYqTu0fB"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LaunchdRun:
    """A prepared home directory, inventory and fake launchctl for the playbook."""

    root: Path
    home: Path
    log: Path
    state: Path
    port_map: dict[str, Any]
    servers: dict[str, dict[str, Any]]

    def run(
        self, extra: dict[str, Any] | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run launchd.yml once and return the finished process."""
        account = pwd.getpwuid(os.getuid())
        inventory = {
            "all": {
                "children": {
                    "whisper_servers": {"hosts": self.servers},
                    "tunnel_clients": {
                        "hosts": {
                            "mac": {
                                "ansible_connection": "local",
                                "ansible_python_interpreter": sys.executable,
                            }
                        }
                    },
                }
            }
        }
        extra_vars: dict[str, Any] = {
            "__autossh_tunnel_account": {
                "name": account.pw_name,
                "group": account.pw_gid,
                "uid": account.pw_uid,
                "home": str(self.home),
            },
            "__autossh_tunnel_become": False,
            "__autossh_tunnel_homebrew_prefix": PREFIX,
            "whispermon_port_map": {name: self.port_map[name] for name in self.servers},
        }
        extra_vars.update(extra or {})
        (self.root / "inventory.json").write_text(json.dumps(inventory))
        (self.root / "extra.json").write_text(json.dumps(extra_vars))
        self.log.write_text("")
        environment = {
            **os.environ,
            "PATH": f"{FAKEBIN}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            "FAKE_LAUNCHCTL_LOG": str(self.log),
            "FAKE_LAUNCHCTL_STATE": str(self.state),
            **env,
        }
        return subprocess.run(
            [
                "ansible-playbook",
                "-i",
                str(self.root / "inventory.json"),
                "-e",
                f"@{self.root / 'extra.json'}",
                str(PLAYBOOK),
            ],
            capture_output=True,
            text=True,
            env=environment,
            cwd=REPO,
            check=False,
        )

    def calls(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line]

    def plist_path(self, server: str) -> Path:
        return self.home / "Library" / "LaunchAgents" / f"{LABEL_PREFIX}{server}.plist"

    def load_plist(self, server: str) -> dict[str, Any]:
        with self.plist_path(server).open("rb") as handle:
            data: dict[str, Any] = plistlib.load(handle)
        return data


def make_run(root: Path, servers: dict[str, dict[str, Any]], ports: dict[str, int]) -> LaunchdRun:
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    state = root / "launchd-state"
    state.mkdir()
    port_map = {
        name: {
            "index": index,
            "ports": {"fastapi": {"local": ports[name], "remote": 8000, "path": "/metrics"}},
        }
        for index, name in enumerate(servers)
    }
    return LaunchdRun(root, home, root / "launchctl.log", state, port_map, servers)


def fake_servers() -> dict[str, dict[str, Any]]:
    # 192.0.2.0/24 is reserved for documentation. Nothing connects to it here.
    return {
        name: {
            "ansible_host": f"192.0.2.{index + 10}",
            "openssh_server_published": {"host_key": FAKE_HOST_KEY, "user": "tunnel", "port": 22},
        }
        for index, name in enumerate(SERVERS)
    }


@pytest.fixture
def launchd(tmp_path: Path) -> LaunchdRun:
    ports = {name: 8000 + 11000 * index for index, name in enumerate(SERVERS)}
    return make_run(tmp_path, fake_servers(), ports)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def changed_count(result: subprocess.CompletedProcess[str]) -> int:
    for line in result.stdout.splitlines():
        if line.startswith("mac ") and "changed=" in line:
            return int(line.split("changed=")[1].split()[0])
    raise AssertionError(f"no play recap for mac in:\n{result.stdout[-2000:]}")


def test_plist_keys_for_two_servers(launchd: LaunchdRun) -> None:
    assert_ok(launchd.run())
    for server in SERVERS:
        text = launchd.plist_path(server).read_text()
        assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!--')
        assert "Ansible managed" in text.split("<plist", 1)[0]
        plist = launchd.load_plist(server)
        assert plist["Label"] == f"{LABEL_PREFIX}{server}"
        assert plist["KeepAlive"] is True
        assert plist["RunAtLoad"] is True
        assert 1 <= plist["ThrottleInterval"] <= 10
        assert plist["ProcessType"] == "Background"
        assert "UserName" not in plist
        logs = launchd.home / "Library" / "Logs" / "whispermon"
        assert plist["StandardOutPath"] == f"{logs}/{LABEL_PREFIX}{server}.log"
        assert plist["StandardErrorPath"] == plist["StandardOutPath"]
        environment = plist["EnvironmentVariables"]
        assert environment["PATH"].split(":")[0] == f"{PREFIX}/bin"
        assert environment["AUTOSSH_GATETIME"] == "0"
        assert environment["AUTOSSH_POLL"] == "30"


def test_program_arguments_use_prefix_autossh(launchd: LaunchdRun) -> None:
    assert_ok(launchd.run())
    plist = launchd.load_plist("mac-server-1")
    arguments: list[str] = plist["ProgramArguments"]
    assert arguments[0] == f"{PREFIX}/bin/autossh"
    assert "/Cellar/" not in arguments[0]
    assert arguments[1:5] == ["-M", "0", "-N", "-T"]
    options = [arguments[i + 1] for i, value in enumerate(arguments) if value == "-o"]
    ssh_dir = launchd.home / ".ssh"
    for option in [
        "ExitOnForwardFailure=yes",
        "ServerAliveInterval=15",
        "ServerAliveCountMax=3",
        "ConnectTimeout=10",
        "BatchMode=yes",
        "IdentitiesOnly=yes",
        "StrictHostKeyChecking=yes",
        f"UserKnownHostsFile={ssh_dir}/whispermon_known_hosts",
    ]:
        assert option in options
    assert arguments[arguments.index("-i") + 1] == f"{ssh_dir}/whispermon_tunnel_ed25519"
    forwards = [arguments[i + 1] for i, value in enumerate(arguments) if value == "-L"]
    assert forwards == ["127.0.0.1:8000:127.0.0.1:8000"]
    assert not any("localhost" in argument for argument in arguments)
    assert arguments[-1] == "192.0.2.10"
    second = launchd.load_plist("mac-server-2")["ProgramArguments"]
    assert [second[i + 1] for i, value in enumerate(second) if value == "-L"] == [
        "127.0.0.1:19000:127.0.0.1:8000"
    ]


def test_known_hosts_lists_published_keys(launchd: LaunchdRun) -> None:
    assert_ok(launchd.run())
    lines = (launchd.home / ".ssh" / "whispermon_known_hosts").read_text().splitlines()
    entries = [line for line in lines if line and not line.startswith("#")]
    assert entries == [f"192.0.2.10 {FAKE_HOST_KEY}", f"192.0.2.11 {FAKE_HOST_KEY}"]


def test_first_run_bootstraps_each_job(launchd: LaunchdRun) -> None:
    assert_ok(launchd.run())
    domain = f"gui/{os.getuid()}"
    expected: list[str] = []
    for server in SERVERS:
        label = f"{LABEL_PREFIX}{server}"
        expected += [
            f"print {domain}/{label}",
            f"enable {domain}/{label}",
            f"bootstrap {domain} {launchd.plist_path(server)}",
            f"print {domain}/{label}",
        ]
    assert launchd.calls() == expected


def test_second_run_only_checks(launchd: LaunchdRun) -> None:
    assert_ok(launchd.run())
    result = launchd.run()
    assert_ok(result)
    assert changed_count(result) == 0
    assert all(call.startswith("print ") for call in launchd.calls())
    assert len(launchd.calls()) == 2 * len(SERVERS)


def test_changed_plist_reloads_job(launchd: LaunchdRun) -> None:
    assert_ok(launchd.run())
    assert_ok(launchd.run({"autossh_tunnel_restart_delay": 7}))
    domain = f"gui/{os.getuid()}"
    label = f"{LABEL_PREFIX}mac-server-1"
    calls = launchd.calls()
    assert calls[:5] == [
        f"print {domain}/{label}",
        f"bootout {domain}/{label}",
        f"enable {domain}/{label}",
        f"bootstrap {domain} {launchd.plist_path('mac-server-1')}",
        f"print {domain}/{label}",
    ]
    assert launchd.load_plist("mac-server-1")["ThrottleInterval"] == 7


def test_unloaded_job_is_bootstrapped_again(launchd: LaunchdRun) -> None:
    assert_ok(launchd.run())
    (launchd.state / f"{LABEL_PREFIX}mac-server-2").unlink()
    assert_ok(launchd.run())
    bootstraps = [call for call in launchd.calls() if call.startswith("bootstrap ")]
    assert bootstraps == [f"bootstrap gui/{os.getuid()} {launchd.plist_path('mac-server-2')}"]


def test_bootstrap_error_fails_role(launchd: LaunchdRun) -> None:
    result = launchd.run(FAKE_LAUNCHCTL_BOOTSTRAP_ERROR="1")
    assert result.returncode != 0
    assert "Bootstrap failed: 5: Input/output error" in result.stdout
    assert changed_count(result) >= 1


def test_removed_server_is_booted_out(launchd: LaunchdRun) -> None:
    assert_ok(launchd.run())
    del launchd.servers["mac-server-2"]
    assert_ok(launchd.run())
    assert f"bootout gui/{os.getuid()}/{LABEL_PREFIX}mac-server-2" in launchd.calls()
    assert not launchd.plist_path("mac-server-2").exists()
    assert launchd.plist_path("mac-server-1").exists()


def test_daemon_mode_user_and_domain(launchd: LaunchdRun) -> None:
    daemons = launchd.root / "LaunchDaemons"
    daemons.mkdir()
    result = launchd.run(
        {
            "autossh_tunnel_macos_mode": "daemon",
            "__autossh_tunnel_launchd_dir": str(daemons),
            # Linux has no wheel group; launchd wants root:wheel on a Mac.
            "__autossh_tunnel_launchd_daemon_group": "root",
        }
    )
    assert_ok(result)
    path = daemons / f"{LABEL_PREFIX}mac-server-1.plist"
    with path.open("rb") as handle:
        plist = plistlib.load(handle)
    assert plist["UserName"] == pwd.getpwuid(os.getuid()).pw_name
    assert f"bootstrap system {path}" in launchd.calls()
    assert f"print system/{LABEL_PREFIX}mac-server-1" in launchd.calls()


# --- ProgramArguments against a lab container --------------------------------

LAB_IMAGE = "whispermon-lab/base:bookworm"
LAB_CONTAINER = "wm-autossh-tunnel-macos-server"
LAB_NETWORK = "wm-autossh-tunnel-macos-net"
MARKER_PORT = 9999


def docker(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, check=check)


def docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    if docker("info", check=False).returncode != 0:
        return "the Docker engine does not answer"
    if docker("image", "inspect", LAB_IMAGE, check=False).returncode != 0:
        return f"lab image {LAB_IMAGE} is missing; build it with whispermon's lab images"
    if not Path("/usr/bin/autossh").exists():
        return "Linux autossh is missing; install Debian's autossh package"
    return None


def wait_for_systemd() -> None:
    """Wait up to 90 s until systemd in the lab container has booted."""
    deadline = time.monotonic() + 90
    state = ""
    while time.monotonic() < deadline:
        result = docker("exec", LAB_CONTAINER, "systemctl", "is-system-running", check=False)
        state = result.stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise AssertionError(f"systemd in {LAB_CONTAINER} did not finish booting: {state!r}")


@dataclass
class LabServer:
    address: str
    host_key: str


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabServer, Path]]:
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    key_dir = tmp_path_factory.mktemp("tunnel-key")
    key = key_dir / "whispermon_tunnel_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "macos-test", "-f", str(key)],
        check=True,
    )
    docker("rm", "-f", LAB_CONTAINER, check=False)
    docker("network", "rm", LAB_NETWORK, check=False)
    docker("network", "create", LAB_NETWORK)
    try:
        docker(
            "run", "-d", "--name", LAB_CONTAINER, "--hostname", LAB_CONTAINER,
            "--network", LAB_NETWORK, "--tmpfs", "/run", "--tmpfs", "/run/lock",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns=host",
            "--stop-signal", "SIGRTMIN+3", LAB_IMAGE, "/lib/systemd/systemd",
        )  # fmt: skip
        public_key = Path(f"{key}.pub").read_text().strip()
        setup = f"""
set -e
useradd --create-home --shell /bin/sh tunnel
install -d -m 0700 -o tunnel -g tunnel /home/tunnel/.ssh
echo 'restrict,port-forwarding,permitopen="127.0.0.1:{MARKER_PORT}" {public_key}' \
  > /home/tunnel/.ssh/authorized_keys
chown tunnel:tunnel /home/tunnel/.ssh/authorized_keys
chmod 0600 /home/tunnel/.ssh/authorized_keys
mkdir -p /srv/marker && hostname > /srv/marker/index.html
systemd-run --unit marker python3 -m http.server --bind 127.0.0.1 \
  --directory /srv/marker {MARKER_PORT}
systemctl start ssh
cat /etc/ssh/ssh_host_ed25519_key.pub
"""
        wait_for_systemd()
        configured = docker("exec", LAB_CONTAINER, "sh", "-c", setup, check=False)
        assert configured.returncode == 0, configured.stderr
        host_key = configured.stdout.strip()
        address_format = f'{{{{(index .NetworkSettings.Networks "{LAB_NETWORK}").IPAddress}}}}'
        address = docker("inspect", "-f", address_format, LAB_CONTAINER).stdout.strip()
        yield LabServer(address, " ".join(host_key.split()[:2])), key
    finally:
        docker("rm", "-f", LAB_CONTAINER, check=False)
        docker("network", "rm", LAB_NETWORK, check=False)


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode().strip())
    except (urllib.error.URLError, OSError):
        return None


def test_program_arguments_open_tunnel(tmp_path: Path, lab_server: tuple[LabServer, Path]) -> None:
    server, key = lab_server
    local_port = free_port()
    servers = {
        "mac-server-1": {
            "ansible_host": server.address,
            "openssh_server_published": {"host_key": server.host_key, "user": "tunnel", "port": 22},
        }
    }
    run = make_run(tmp_path, servers, {"mac-server-1": local_port})
    run.port_map["mac-server-1"]["ports"] = {
        "marker": {"local": local_port, "remote": MARKER_PORT, "path": "/"}
    }
    shutil.copy(key, run.home / ".ssh" / key.name)
    shutil.copy(f"{key}.pub", run.home / ".ssh" / f"{key.name}.pub")
    (run.home / ".ssh" / key.name).chmod(0o600)
    assert_ok(run.run())

    plist = run.load_plist("mac-server-1")
    arguments = ["/usr/bin/autossh", *plist["ProgramArguments"][1:]]
    environment = {**plist["EnvironmentVariables"], "PATH": "/usr/bin:/bin"}
    log = (tmp_path / "autossh.log").open("w")
    process = subprocess.Popen(arguments, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        answer = None
        deadline = time.monotonic() + 30
        while answer is None and time.monotonic() < deadline and process.poll() is None:
            answer = fetch(f"http://127.0.0.1:{local_port}/")
            if answer is None:
                time.sleep(1)
        assert answer == LAB_CONTAINER, (tmp_path / "autossh.log").read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
