"""Both inventories describe the three groups; the example vault opens and is complete."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

GROUPS = {"whisper_servers", "tunnel_clients", "monitoring_hosts"}


def _inventory(project_dir: Path, env: dict[str, str], name: str) -> dict[str, object]:
    command = ["ansible-inventory", "-i", f"inventory/{name}", "--list"]
    if name == "example":
        command += ["--vault-password-file", "inventory/example/vault-password.example"]
    result = subprocess.run(command, cwd=project_dir, env=env, capture_output=True, text=True,
                            check=True)
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


@pytest.mark.parametrize("name", ["lab", "example"])
def test_inventory_has_groups(name: str, project_dir: Path, tool_env: dict[str, str]) -> None:
    inventory = _inventory(project_dir, tool_env, name)
    for group in GROUPS:
        entry = inventory.get(group)
        assert isinstance(entry, dict) and entry.get("hosts"), f"{name}: {group} has no hosts"


def test_example_mac_runs_locally(project_dir: Path, tool_env: dict[str, str]) -> None:
    inventory = _inventory(project_dir, tool_env, "example")
    hostvars = inventory["_meta"]["hostvars"]  # type: ignore[index]
    assert hostvars["ops-mac"]["ansible_connection"] == "local"


def test_example_winrm_is_encrypted(project_dir: Path, tool_env: dict[str, str]) -> None:
    hostvars = _inventory(project_dir, tool_env, "example")["_meta"]["hostvars"]  # type: ignore[index]
    for host in ("whisper-a", "whisper-b"):
        settings = hostvars[host]
        assert settings["ansible_connection"] == "winrm"
        secure = (settings["ansible_winrm_scheme"] == "https"
                  or settings.get("ansible_winrm_message_encryption") in ("auto", "always"))
        assert settings["ansible_winrm_transport"] in ("ntlm", "kerberos", "credssp")
        assert secure, f"{host}: WinRM traffic would be unencrypted"


def test_example_vault_matches_template(project_dir: Path, tool_env: dict[str, str]) -> None:
    vault_dir = project_dir / "inventory" / "example" / "group_vars" / "all"
    assert (vault_dir / "vault.yml").read_text().startswith("$ANSIBLE_VAULT;")
    result = subprocess.run(
        ["ansible-vault", "view", "--vault-password-file",
         "inventory/example/vault-password.example", str(vault_dir / "vault.yml")],
        cwd=project_dir, env=tool_env, capture_output=True, text=True, check=True)
    template = yaml.safe_load((vault_dir / "vault.yml.example").read_text())
    assert set(yaml.safe_load(result.stdout)) == set(template)
