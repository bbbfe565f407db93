"""The runner module: run directories, environment, command line and error cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from whispermon import runner
from whispermon.errors import ExitCode, WhispermonError


def test_ansible_playbook_comes_from_own_environment() -> None:
    found = runner.find_ansible_playbook()
    assert found.parent == Path(sys.executable).parent
    assert found.name == "ansible-playbook"


def test_missing_ansible_playbook_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    with pytest.raises(WhispermonError) as caught:
        runner.find_ansible_playbook()
    assert str(caught.value).startswith("Could not find ansible-playbook: ")
    assert str(tmp_path / "bin" / "ansible-playbook") in caught.value.cause
    assert "install" in caught.value.hint


def test_run_directories_are_private_and_pruned(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    created = [runner.create_private_data_dir("deploy", root) for _ in range(5)]
    assert len(set(created)) == 5
    assert all(path.name.endswith("-deploy") for path in created)
    assert oct(created[0].stat().st_mode & 0o777) == "0o700"
    removed = runner.prune_runs(2, root)
    assert removed == created[:3]
    assert sorted(root.iterdir()) == created[3:]


def test_envvars_put_own_bin_first_and_keep_host_key_checking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    monkeypatch.setenv("PATH", "/usr/bin")
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    envvars = runner.build_envvars(tmp_path, Path("/venv/bin/ansible-playbook"))
    assert envvars["PATH"].split(os.pathsep)[0] == "/venv/bin"
    assert envvars["ANSIBLE_CONFIG"] == str(tmp_path / "ansible.cfg")
    assert envvars["ANSIBLE_HOST_KEY_CHECKING"] == "True"


def test_envvars_disable_objc_fork_check_on_macos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    envvars = runner.build_envvars(tmp_path, Path("/venv/bin/ansible-playbook"))
    assert envvars["OBJC_DISABLE_INITIALIZE_FORK_SAFETY"] == "YES"
    monkeypatch.setattr(sys, "platform", "linux")
    envvars = runner.build_envvars(tmp_path, Path("/venv/bin/ansible-playbook"))
    assert "OBJC_DISABLE_INITIALIZE_FORK_SAFETY" not in envvars


def test_cmdline_passes_vault_file_path_only(tmp_path: Path) -> None:
    vault = tmp_path / "vault pass.txt"
    spec = runner.RunSpec(
        "drift", tmp_path, "site.yml", check=True, diff=True, vault_password_file=vault
    )
    assert runner.build_cmdline(spec) == f"--check --diff --vault-password-file '{vault}'"


def test_command_artifact_keeps_only_known_variables(tmp_path: Path) -> None:
    artifact = tmp_path / "artifacts" / "abc" / "command"
    artifact.parent.mkdir(parents=True)
    artifact.write_text(
        json.dumps(
            {
                "command": ["ansible-playbook", "site.yml"],
                "env": {
                    "PATH": "/venv/bin",
                    "AWS_SECRET_ACCESS_KEY": "s3cr3t",
                    "ANSIBLE_STDOUT_CALLBACK": "awx_display",
                },
            }
        )
    )
    runner._scrub_command_artifact(tmp_path, {"PATH": "/venv/bin"})
    data = json.loads(artifact.read_text())
    assert data["env"]["PATH"] == "/venv/bin"
    assert data["env"]["ANSIBLE_STDOUT_CALLBACK"] == "awx_display"
    assert data["env"]["AWS_SECRET_ACCESS_KEY"] == runner.NOT_RECORDED
    assert "s3cr3t" not in artifact.read_text()


def _spec(root: Path, **kwargs: Any) -> runner.RunSpec:
    (root / "site.yml").write_text("---\n[]\n")
    return runner.RunSpec("deploy", root, "site.yml", **kwargs)


def test_missing_inventory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(WhispermonError) as caught:
        runner.run_playbook(
            _spec(tmp_path, inventory=tmp_path / "nope"),
            lambda event: None,
            runs_dir=tmp_path / "runs",
        )
    assert caught.value.exit_code == ExitCode.USAGE
    assert "nope does not exist" in caught.value.cause
    assert not (tmp_path / "runs").exists()


def test_missing_vault_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(WhispermonError) as caught:
        runner.run_playbook(
            _spec(tmp_path, vault_password_file=tmp_path / "pw"),
            lambda event: None,
            runs_dir=tmp_path / "runs",
        )
    assert caught.value.action == "read the vault password file"


def test_missing_status_or_rc_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ansible_runner

    class NoResult:
        status = None
        rc = None
        canceled = False

    monkeypatch.setattr(ansible_runner, "run", lambda **kwargs: NoResult())
    with pytest.raises(WhispermonError) as caught:
        runner.run_playbook(_spec(tmp_path), lambda event: None, runs_dir=tmp_path / "runs")
    assert "ansible-runner returned no result" in caught.value.cause
    assert "artifacts" in caught.value.hint


def test_runner_receives_safe_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ansible_runner

    received: dict[str, Any] = {}

    class Done:
        status = "successful"
        rc = 0
        canceled = False

    def fake_run(**kwargs: Any) -> Done:
        received.update(kwargs)
        return Done()

    monkeypatch.setattr(ansible_runner, "run", fake_run)
    vault = tmp_path / "vault-pass"
    vault.write_text("hunter2\n")
    outcome = runner.run_playbook(
        _spec(tmp_path, vault_password_file=vault, limit="server-1"),
        lambda event: None,
        runs_dir=tmp_path / "runs",
    )
    assert received["suppress_env_files"] is True
    assert received["project_dir"] == str(tmp_path)
    assert received["limit"] == "server-1"
    assert "extravars" not in received
    assert "passwords" not in received
    assert str(vault) in received["cmdline"]
    assert "hunter2" not in json.dumps({k: str(v) for k, v in received.items()})
    assert Path(received["private_data_dir"]).parent == tmp_path / "runs"
    assert outcome.status == "successful"
    assert outcome.rc == 0
    assert outcome.canceled is False


def test_cancellation_without_playbook_pid_cancels_at_once() -> None:
    cancellation = runner.Cancellation()
    assert cancellation() is False
    cancellation.request()
    assert cancellation.requested
    assert cancellation() is True


def test_cancellation_interrupts_playbook_before_kill() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cancellation = runner.Cancellation(grace_seconds=0)
        cancellation.observe({"event": "playbook_on_start", "pid": child.pid})
        cancellation.request()
        # First poll: SIGINT to ansible-playbook, and no kill yet.
        assert cancellation() is False
        assert child.wait(timeout=30) != 0
        # Later polls, after the grace period: ansible-runner may kill.
        assert cancellation() is True
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
