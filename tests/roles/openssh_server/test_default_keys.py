"""The default openssh_server_authorized_keys collects the tunnel clients' keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = REPO / "roles" / "openssh_server" / "defaults" / "main.yml"
MAC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEb1YcJtDOx8f5VVdv7OQ9vBUXvdgbRr5HTtyk9NOD7x mac"
LINUX_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINfPsOb5NfiVVdyyJSQqGukcfQkzQY2hR7H6SFZSKnfQ box"


def test_default_collects_published_keys(tmp_path: Path) -> None:
    inventory = {
        "all": {
            "children": {
                "tunnel_clients": {
                    "hosts": {
                        "mac": {"autossh_tunnel_public_key": MAC_KEY},
                        "linux-box": {"autossh_tunnel_public_key": LINUX_KEY},
                        "not-yet-run": {},
                    }
                },
                "whisper_servers": {"hosts": {"server-1": {}}},
            }
        }
    }
    playbook = [
        {
            "name": "Show the default keys",
            "hosts": "server-1",
            "gather_facts": False,
            "vars_files": [str(DEFAULTS)],
            "tasks": [
                {
                    "name": "Write the keys",
                    "ansible.builtin.copy": {
                        "content": "{{ openssh_server_authorized_keys | to_json }}",
                        "dest": str(tmp_path / "keys.json"),
                        "mode": "0600",
                    },
                }
            ],
        }
    ]
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "playbook.yml").write_text(yaml.safe_dump(playbook))
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    done = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(tmp_path / "inventory.yml"),
            "-c",
            "local",
            "-e",
            json.dumps({"ansible_python_interpreter": sys.executable}),
            str(tmp_path / "playbook.yml"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    keys = json.loads((tmp_path / "keys.json").read_text())
    assert sorted(keys) == sorted([MAC_KEY, LINUX_KEY])
