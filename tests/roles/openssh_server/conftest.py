"""Fixtures that render the openssh_server templates and run sshd -T on them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "openssh_server"
RENDER_PLAYBOOK = Path(__file__).with_name("render.yml")
SSHD_IMAGE = "whispermon-lab/base:bookworm"
TUNNEL_USER = "whispermon-tunnel"

# Versions rendered per OS family. Windows: the capability's OpenSSH on
# Server 2019 (7.7), Server 2022 (8.1), an intermediate 8.6, Server 2025
# (9.5). Debian and Ubuntu: bookworm (9.2), jammy (8.9), noble (9.6), and a
# later 9.9.
VERSIONS = {
    "Windows": ["7.7", "8.1", "8.6", "9.5"],
    "Debian": ["8.9", "9.2", "9.6", "9.9"],
}

TEST_KEYS = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEb1YcJtDOx8f5VVdv7OQ9vBUXvdgbRr5HTtyk9NOD7x tunnel@mac",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINfPsOb5NfiVVdyyJSQqGukcfQkzQY2hR7H6SFZSKnfQ tunnel@b",
]

PORT_MAP = {
    "localhost": {
        "index": 0,
        "ports": {
            "fastapi": {"local": 8000, "remote": 8000, "path": "/metrics"},
            "flower": {"local": 5555, "remote": 5555, "path": "/metrics"},
            "postgres": {"local": 9187, "remote": 9187, "path": "/metrics"},
            "redis": {"local": 9121, "remote": 9121, "path": "/metrics"},
            "host": {"local": 9182, "remote": 9182, "path": "/metrics"},
        },
    }
}


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def run_playbook(
    playbook: Path, extra_vars: dict[str, object], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run a playbook against localhost with extra vars given as JSON."""
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            json.dumps({"ansible_python_interpreter": sys.executable, **extra_vars}),
            *args,
            str(playbook),
        ],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


RENDER_CASES = [(family, version) for family, versions in VERSIONS.items() for version in versions]
# The real sshd here is 9.2 and rejects names added after it. The role's
# algorithm table adds none between 9.2 and 9.8, so sshd -T checks every
# rendering below 9.9 (which adds ML-KEM).
SSHD_CASES = [case for case in RENDER_CASES if version_tuple(case[1]) < (9, 9)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `render_case` and `sshd_case` with (os_family, version) pairs."""
    for name, cases in (("render_case", RENDER_CASES), ("sshd_case", SSHD_CASES)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(
                name, cases, ids=[f"{family}-{version}" for family, version in cases]
            )


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Render sshd_config for every OS family and version, and the key files."""
    out_dir = tmp_path_factory.mktemp("openssh_server_render")
    for os_family, versions in VERSIONS.items():
        result = run_playbook(
            RENDER_PLAYBOOK,
            {
                "os_family": os_family,
                "out_dir": str(out_dir),
                "versions": versions,
                "whispermon_port_map": PORT_MAP,
                "openssh_server_authorized_keys": TEST_KEYS,
            },
        )
        assert result.returncode == 0, result.stdout + result.stderr
    # A deliberately broken sample shows that the sshd -T check can fail.
    sample = (out_dir / "sshd_config-Debian-9.2").read_text()
    broken = "\n".join(
        "KexAlgorithms no-such-kex" if line.startswith("KexAlgorithms ") else line
        for line in sample.splitlines()
    )
    (out_dir / "sshd_config-broken-sample").write_text(broken + "\n")
    return out_dir


def sshd_command() -> list[str] | None:
    """Return how to run a real sshd: on this host, or in the lab base image."""
    local = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if local:
        return [local]
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(
        [docker, "image", "inspect", SSHD_IMAGE],
        capture_output=True,
        check=False,
        timeout=60,
    )
    return ["docker"] if probe.returncode == 0 else None


@pytest.fixture(scope="session")
def sshd_test(
    rendered: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, dict[str, str]]]:
    """Run `sshd -T` on every rendered sshd_config; map file name -> user -> output.

    Each file is checked for the tunnel user and for another user, with a
    throw-away host key because the rendered HostKey paths do not exist here.
    """
    command = sshd_command()
    if command is None:
        pytest.skip(f"no sshd: neither sshd on PATH nor the docker image {SSHD_IMAGE}")
    results_dir = tmp_path_factory.mktemp("sshd_t")
    configs = sorted(path.name for path in rendered.glob("sshd_config-*"))
    script = "\n".join(
        [
            "set -u",
            "mkdir -p /run/sshd",
            "ssh-keygen -q -t ed25519 -N '' -f \"$WORK/hostkey\"",
            f"id {TUNNEL_USER} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin {TUNNEL_USER}",
            "for config in " + " ".join(configs) + "; do",
            "  for user in " + TUNNEL_USER + " operator; do",
            '    "$SSHD" -T -f "$CONFIGS/$config" -o HostKey="$WORK/hostkey"'
            " -C user=$user,host=localhost,addr=127.0.0.1"
            ' >"$RESULTS/$config.$user.out" 2>"$RESULTS/$config.$user.err"',
            '    echo $? >"$RESULTS/$config.$user.rc"',
            "  done",
            "done",
        ]
    )
    env = dict(os.environ)
    if command == ["docker"]:
        run = [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{rendered}:/configs:ro",
            "-v",
            f"{results_dir}:/results",
            "-e",
            "CONFIGS=/configs",
            "-e",
            "RESULTS=/results",
            "-e",
            "WORK=/tmp",
            "-e",
            "SSHD=/usr/sbin/sshd",
            "--entrypoint",
            "/bin/sh",
            SSHD_IMAGE,
            "-c",
            script,
        ]
    else:
        work = tmp_path_factory.mktemp("sshd_work")
        run = ["/bin/sh", "-c", script]
        env.update(
            {
                "CONFIGS": str(rendered),
                "RESULTS": str(results_dir),
                "WORK": str(work),
                "SSHD": command[0],
            }
        )
    done = subprocess.run(run, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    results: dict[str, dict[str, str]] = {}
    for config in configs:
        results[config] = {}
        for user in (TUNNEL_USER, "operator"):
            for kind in ("out", "err", "rc"):
                text = (results_dir / f"{config}.{user}.{kind}").read_text()
                results[config][user if kind == "out" else f"{user}.{kind}"] = (
                    text.strip() if kind == "rc" else text
                )
    yield results
