"""What the role writes on Windows for the tunnel keys: encoding and ACL.

sshd for Windows ignores a key file in UTF-16 or with a byte order mark, and
ignores administrators_authorized_keys unless only SYSTEM and Administrators
have access. These tests check the rendered file's bytes and the arguments
that the tasks pass to the ACL script. Only a real Windows host shows that
sshd accepts them (molecule scenario `windows`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "openssh_server"
SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
EXPECTED_OPTIONS = (
    'restrict,port-forwarding,permitopen="127.0.0.1:8000",permitopen="127.0.0.1:5555",'
    'permitopen="127.0.0.1:9187",permitopen="127.0.0.1:9121",permitopen="127.0.0.1:9182"'
)


def load_tasks(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((ROLE / "tasks" / name).read_text())


def task_named(tasks: list[dict[str, Any]], name: str) -> dict[str, Any]:
    matches = [task for task in tasks if task.get("name") == name]
    assert len(matches) == 1, f"expected one task named {name!r}, found {len(matches)}"
    return matches[0]


def windows_vars() -> dict[str, Any]:
    return yaml.safe_load((ROLE / "vars" / "Windows.yml").read_text())


def test_key_file_has_no_bom(rendered: Path) -> None:
    data = (rendered / "authorized_keys-Windows").read_bytes()
    assert not data.startswith(BOMS), data[:4]
    assert b"\x00" not in data


def test_key_file_is_utf8_with_lf(rendered: Path) -> None:
    data = (rendered / "authorized_keys-Windows").read_bytes()
    data.decode("utf-8", errors="strict")
    assert b"\r" not in data


def test_key_lines_have_options_and_key(rendered: Path) -> None:
    lines = [
        line
        for line in (rendered / "authorized_keys-Windows").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(lines) == 2
    for line in lines:
        options, _, key = line.partition(" ")
        assert options == EXPECTED_OPTIONS
        assert key.startswith("ssh-ed25519 AAAA")


def test_key_file_written_by_win_template() -> None:
    task = task_named(load_tasks("configure-Windows.yml"), "Install the tunnel keys")
    arguments = task["ansible.windows.win_template"]
    assert arguments["src"] == "authorized_keys.j2"
    assert arguments.get("output_encoding", "utf-8") == "utf-8"
    assert arguments["newline_sequence"] == "\n"


def test_no_shell_writes_key_files() -> None:
    """No PowerShell in any role writes a key file; redirection there gives UTF-16 with BOM."""
    roles = ROLE.parent
    writer = re.compile(
        r"(Out-File|Set-Content|Add-Content|>>?)[^\n]*authorized_keys", re.IGNORECASE
    )
    for path in [
        *roles.glob("*/tasks/*.yml"),
        *roles.glob("*/files/*.ps1"),
        *roles.glob("*/templates/*.ps1.j2"),
    ]:
        assert not writer.search(path.read_text()), f"{path} writes a key file from PowerShell"


def test_windows_sids() -> None:
    values = windows_vars()
    assert values["__openssh_server_sid_system"] == SYSTEM_SID
    assert values["__openssh_server_sid_administrators"] == ADMINISTRATORS_SID


def acl_parameters(task_name: str) -> dict[str, Any]:
    task = task_named(load_tasks("configure-Windows.yml"), task_name)
    arguments = task["ansible.windows.win_powershell"]
    assert "Set-OpenSshKeyFileAcl.ps1" in arguments["script"]
    return dict(arguments["parameters"])


def resolve(value: str) -> str:
    """Replace a reference to a Windows.yml variable with its value."""
    values = windows_vars()
    match = re.fullmatch(r"\{\{ (\w+) \}\}", value)
    return str(values[match.group(1)]) if match and match.group(1) in values else value


def test_tunnel_key_acl_by_sid() -> None:
    parameters = acl_parameters("Set the ACL of the tunnel key file")
    assert resolve(parameters["OwnerSid"]) == ADMINISTRATORS_SID
    assert [resolve(sid) for sid in parameters["FullControlSid"]] == [
        SYSTEM_SID,
        ADMINISTRATORS_SID,
    ]
    assert parameters["ReadSid"] == "{{ __openssh_server_account.sid }}"


def test_admin_key_acl_is_system_and_administrators_only() -> None:
    parameters = acl_parameters("Set the ACL of the administrators' key file")
    assert resolve(parameters["OwnerSid"]) == ADMINISTRATORS_SID
    assert [resolve(sid) for sid in parameters["FullControlSid"]] == [
        SYSTEM_SID,
        ADMINISTRATORS_SID,
    ]
    assert "ReadSid" not in parameters


def test_acl_script_disables_inheritance_and_uses_sids() -> None:
    script = (ROLE / "files" / "Set-OpenSshKeyFileAcl.ps1").read_text()
    assert "SetAccessRuleProtection($true, $false)" in script
    assert "System.Security.Principal.SecurityIdentifier" in script
    assert "NTAccount" not in script
    assert "$Ansible.Changed" in script


def test_tunnel_user_not_administrator() -> None:
    task = task_named(
        load_tasks("setup-Windows.yml"), "Create the tunnel user {{ openssh_server_tunnel_user }}"
    )
    arguments = task["ansible.windows.win_user"]
    assert arguments["groups"] == ["Users"]
    assert arguments["groups_action"] == "replace"
    assert task["no_log"] is True
