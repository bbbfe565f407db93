"""Preflight of autossh_tunnel: each bad input fails with the variable's name.

The checks run on localhost with an inventory of two fake servers, and nothing
connects to them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = Path(__file__).resolve().parent / "preflight.yml"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnR8Ep7HmdlXkXbC5v0Ab4aBq2t8E3oPnqTmYqTu0fB"
PUBLISHED = {"host_key": HOST_KEY, "user": "whispermon-tunnel", "port": 22}


def port_map(first: int, second: int, remote: int = 8000) -> dict[str, Any]:
    return {
        "server-1": {"index": 0, "ports": {"fastapi": {"local": first, "remote": remote}}},
        "server-2": {"index": 1, "ports": {"fastapi": {"local": second, "remote": remote}}},
    }


def run_preflight(
    tmp_path: Path, extra: dict[str, Any], published: bool = True
) -> subprocess.CompletedProcess[str]:
    server_vars = {"openssh_server_published": PUBLISHED} if published else {}
    inventory = {
        "all": {
            "children": {
                "whisper_servers": {
                    "hosts": {"server-1": dict(server_vars), "server-2": dict(server_vars)}
                },
                "tunnel_clients": {
                    "hosts": {
                        "client": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        }
                    }
                },
            }
        }
    }
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "extra.json").write_text(
        json.dumps({"whispermon_port_map": port_map(8000, 19000), **extra})
    )
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_NOCOLOR": "1",
    }
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(tmp_path / "inventory.json"),
            "-e",
            f"@{tmp_path / 'extra.json'}",
            str(PLAYBOOK),
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        check=False,
    )


def test_valid_inputs_pass(tmp_path: Path) -> None:
    result = run_preflight(tmp_path, {})
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize(
    ("extra", "published", "expected"),
    [
        ({"autossh_tunnel_bind_address": "0.0.0.0"}, True, "every interface"),
        # 192.0.2.1 is a documentation address that no host here owns.
        ({"autossh_tunnel_bind_address": "192.0.2.1"}, True, "not an\naddress of"),
        ({}, False, "run the server play first"),
        ({"whispermon_port_map": port_map(8000, 8000)}, True, "more than once"),
        ({"whispermon_port_map": port_map(8000, 70000)}, True, "between 1 and 65535"),
        ({"autossh_tunnel_connect_timeout": 0}, True, "autossh_tunnel_connect_timeout is 0"),
    ],
    ids=["wildcard-bind", "foreign-bind", "unpublished", "duplicate-port", "port-range", "timeout"],
)
def test_bad_input_rejected(
    tmp_path: Path, extra: dict[str, Any], published: bool, expected: str
) -> None:
    result = run_preflight(tmp_path, extra, published)
    assert result.returncode != 0
    output = " ".join(result.stdout.split())
    assert " ".join(expected.split()) in output, result.stdout[-3000:]
    variable = next(iter(extra), "openssh_server_published")
    assert variable in output
