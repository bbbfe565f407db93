"""Preflight rejects bad input before any change, naming the variable.

Each case runs the role's preflight tasks on the controller (a Debian-family
host) with one input changed. The good cases show that valid WinRM settings
pass, so a rejection is caused by the bad input.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = Path(__file__).with_name("preflight.yml")
GOOD_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEb1YcJtDOx8f5VVdv7OQ9vBUXvdgbRr5HTtyk9NOD7x tunnel@mac"
)
PORTS = {
    "fastapi": {"local": 8000, "remote": 8000, "path": "/metrics"},
    "flower": {"local": 5555, "remote": 5555, "path": "/metrics"},
}
GOOD: dict[str, Any] = {
    "whispermon_port_map": {"localhost": {"index": 0, "ports": PORTS}},
    "openssh_server_authorized_keys": [GOOD_KEY],
}


def run_preflight(overrides: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    extra = {**copy.deepcopy(GOOD), **overrides, "ansible_python_interpreter": sys.executable}
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            json.dumps(extra),
            str(PLAYBOOK),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


DUPLICATE_PORTS = {
    "localhost": {
        "index": 0,
        "ports": {**PORTS, "redis": {"local": 9121, "remote": 8000, "path": "/metrics"}},
    }
}

BAD_CASES = {
    "basic-over-http": (
        {"ansible_winrm_transport": "basic", "ansible_winrm_scheme": "http"},
        "ansible_winrm_transport",
    ),
    "basic-on-port-5985": (
        {"ansible_winrm_transport": "basic", "ansible_port": 5985},
        "ansible_winrm_transport",
    ),
    "basic-in-list": (
        {"ansible_winrm_transport": "ntlm,basic", "ansible_winrm_scheme": "http"},
        "ansible_winrm_transport",
    ),
    "cert-validation-boolean": (
        {"ansible_winrm_server_cert_validation": False},
        "ansible_winrm_server_cert_validation",
    ),
    "cert-validation-other-string": (
        {"ansible_winrm_server_cert_validation": "true"},
        "ansible_winrm_server_cert_validation",
    ),
    "empty-keys": ({"openssh_server_authorized_keys": []}, "openssh_server_authorized_keys"),
    "malformed-key": (
        {"openssh_server_authorized_keys": ["ssh-ed25519 not-base64!"]},
        "openssh_server_authorized_keys",
    ),
    "key-with-options": (
        {"openssh_server_authorized_keys": ['command="sh" ' + GOOD_KEY]},
        "openssh_server_authorized_keys",
    ),
    "key-with-newline": (
        {"openssh_server_authorized_keys": [GOOD_KEY + "\nssh-rsa AAAA"]},
        "openssh_server_authorized_keys",
    ),
    "duplicate-ports": ({"whispermon_port_map": DUPLICATE_PORTS}, "whispermon_port_map"),
    "ssh-port-forwarded": ({"openssh_server_port": 8000}, "openssh_server_port"),
    "bad-port": ({"openssh_server_port": 70000}, "openssh_server_port"),
    "tunnel-user-root": ({"openssh_server_tunnel_user": "root"}, "openssh_server_tunnel_user"),
    "tunnel-user-administrator": (
        {"openssh_server_tunnel_user": "Administrator"},
        "openssh_server_tunnel_user",
    ),
    "tunnel-user-too-long": (
        {"openssh_server_tunnel_user": "a" * 21},
        "openssh_server_tunnel_user",
    ),
    "source-with-quote": (
        {"openssh_server_allowed_sources": ['192.0.2.1",command="sh']},
        "openssh_server_allowed_sources",
    ),
}


GOOD_CASES = {
    "ntlm-over-http": {
        "ansible_winrm_transport": "ntlm",
        "ansible_winrm_scheme": "http",
        "ansible_winrm_server_cert_validation": "ignore",
    },
    "basic-over-https": {
        "ansible_winrm_transport": ["basic"],
        "ansible_winrm_scheme": "https",
        "ansible_winrm_server_cert_validation": "validate",
    },
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every case once, a few at a time, since each is a separate ansible-playbook."""
    cases = {**GOOD_CASES, **{name: overrides for name, (overrides, _) in BAD_CASES.items()}}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_preflight, overrides) for name, overrides in cases.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", list(GOOD_CASES))
def test_good_input_passes(
    outcomes: dict[str, subprocess.CompletedProcess[str]], case: str
) -> None:
    result = outcomes[case]
    assert result.returncode == 0, result.stdout


def first_failure(output: str) -> str:
    """Return the output from the first failed task on, or '' if none failed."""
    positions = [
        position for marker in ("fatal: [", "failed: [") if (position := output.find(marker)) >= 0
    ]
    return output[min(positions) :] if positions else ""


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_rejected(
    outcomes: dict[str, subprocess.CompletedProcess[str]], case: str
) -> None:
    result = outcomes[case]
    variable = BAD_CASES[case][1]
    assert result.returncode != 0, result.stdout
    failure = first_failure(result.stdout)
    assert failure, result.stdout
    assert variable in failure, failure
    assert "changed=0" in result.stdout
