"""No secret lands in a run directory or in whispermon's output and logs.

A real deploy and drift of the fixture project use a vaulted variable (in a
no_log task), a vault password file, and a token in the parent environment.
Then the test searches every file under the state directory, and all output,
for the three values.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import FixtureProject

WHISPERMON = Path(sys.executable).parent / "whispermon"
ANSIBLE_VAULT = Path(sys.executable).parent / "ansible-vault"


def _vault_variable(name: str, value: str, password_file: Path) -> str:
    result = subprocess.run(
        [
            str(ANSIBLE_VAULT),
            "encrypt_string",
            "--vault-password-file",
            str(password_file),
            "--stdin-name",
            name,
        ],
        input=value,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def _whispermon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WHISPERMON), "--debug", "-vv", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )


def _files_containing(root: Path, needles: dict[str, str]) -> list[str]:
    hits: list[str] = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits.extend(
                f"{label} in {path}" for label, value in needles.items() if value.encode() in data
            )
    return hits


def test_secrets_stay_out_of_artifacts_and_logs(
    fixture_project: FixtureProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_password = f"vault-password-{secrets.token_hex(8)}"
    vaulted_secret = f"vaulted-secret-{secrets.token_hex(8)}"
    environment_token = f"environment-token-{secrets.token_hex(8)}"
    password_file = tmp_path / "vault-password"
    password_file.write_text(vault_password + "\n")
    password_file.chmod(0o600)
    group_vars = fixture_project.root / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    (group_vars / "vault.yml").write_text(
        "---\n" + _vault_variable("fixture_secret", vaulted_secret, password_file)
    )
    monkeypatch.setenv("WHISPERMON_FIXTURE_TOKEN", environment_token)

    deployed = _whispermon("deploy", "--diff", "--vault-password-file", str(password_file))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    # The secret was really used: the no_log task wrote it.
    secret_file = fixture_project.output_dir / "secret.txt"
    assert secret_file.read_text().strip() == vaulted_secret

    secret_file.write_text("tampered\n")
    drifted = _whispermon("drift", "--vault-password-file", str(password_file))
    assert drifted.returncode == 2, drifted.stdout + drifted.stderr
    assert "Write the secret file" in drifted.stdout

    needles = {
        "vault password": vault_password,
        "vaulted secret": vaulted_secret,
        "environment token": environment_token,
    }
    assert _files_containing(fixture_project.state_dir, needles) == []
    for run in (deployed, drifted):
        for label, value in needles.items():
            assert value not in run.stdout, f"{label} in stdout"
            assert value not in run.stderr, f"{label} in stderr"
    # The run directories exist and the vault password went in as a path.
    commands = list(fixture_project.runs_dir.glob("*/artifacts/*/command"))
    assert len(commands) == 2
    assert all(str(password_file) in path.read_text() for path in commands)
    assert not list(fixture_project.runs_dir.glob("*/env/extravars"))
    assert not list(fixture_project.runs_dir.glob("*/env/envvars"))
