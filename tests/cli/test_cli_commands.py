"""The whispermon command end to end: options, errors, exit codes and real runs.

The real runs use tests/cli/fixtures/project, a one-play project against
localhost with ``connection: local``; each takes a few seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
from cli_support import CliResult, FixtureProject

from whispermon import __version__
from whispermon.cli import app
from whispermon.drift import DRIFT_JSON_SCHEMA

ESC = "\x1b"


def _all_commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = [("whispermon", root)]
    for name, command in getattr(root, "commands", {}).items():
        found.append((name, command))
        for sub, subcommand in getattr(command, "commands", {}).items():
            found.append((f"{name} {sub}", subcommand))
    return found


def test_version(invoke: Any) -> None:
    result: CliResult = invoke(["--version"])
    assert result.code == 0
    assert result.stdout.strip() == f"whispermon {__version__}"


def test_every_command_and_option_has_help() -> None:
    for name, command in _all_commands():
        assert command.help, f"{name} has no help text"
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts} has no help text"


@pytest.mark.parametrize("command", ["deploy", "drift", "doctor"])
def test_command_help_lists_exit_codes(invoke: Any, command: str) -> None:
    result = invoke([command, "--help"])
    assert result.code == 0
    assert "Exit codes" in result.stdout
    assert "--inventory" in result.stdout


def test_unknown_option_is_usage_error(invoke: Any) -> None:
    result = invoke(["deploy", "--no-such-option"])
    assert result.code == 64
    assert "No such option" in result.stderr


def test_keep_runs_must_be_positive(invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke(["--keep-runs", "0", "deploy"]).code == 64
    monkeypatch.setenv("WHISPERMON_KEEP_RUNS", "many")
    result = invoke(["deploy"])
    assert result.code == 64
    assert "WHISPERMON_KEEP_RUNS" in result.stderr or "--keep-runs" in result.stderr


def test_error_is_one_line_and_hint(
    invoke: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHISPERMON_PROJECT_DIR", str(tmp_path))
    result = invoke(["deploy"])
    assert result.code == 1
    lines = result.stderr.splitlines()
    assert (
        lines[0] == f"Could not find the whispermon project: WHISPERMON_PROJECT_DIR={tmp_path} "
        "has no site.yml"
    )
    assert lines[1].startswith("Hint: ")
    assert "Traceback" not in result.stderr


def test_debug_prints_traceback(
    invoke: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHISPERMON_PROJECT_DIR", str(tmp_path))
    result = invoke(["--debug", "deploy"])
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "Could not find the whispermon project" in result.stderr


def test_missing_ansible_playbook(
    invoke: Any,
    fixture_project: FixtureProject,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "empty-env" / "bin" / "python"))
    result = invoke(["deploy"])
    assert result.code == 1
    assert result.stderr.startswith("Could not find ansible-playbook: ")
    assert "empty-env/bin/ansible-playbook does not exist" in result.stderr


def test_doctor_without_its_playbook(invoke: Any, fixture_project: FixtureProject) -> None:
    result = invoke(["doctor"])
    assert result.code == 1
    assert "Could not run playbooks/doctor.yml: " in result.stderr


def test_deploy_drift_cycle(
    invoke: Any, fixture_project: FixtureProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("WHISPERMON_KEEP_RUNS", "2")

    deployed = invoke(["deploy"])
    assert deployed.code == 0, deployed.stderr
    assert ESC not in deployed.stdout + deployed.stderr
    # NO_COLOR on a (forced) terminal: plain progress lines, no live view.
    assert "TASK Write the settings file" in deployed.stderr.splitlines()
    row = next(line for line in deployed.stdout.splitlines() if "fixture-host" in line)
    assert row.split()[:4] == ["fixture-host", "4", "2", "0"]
    assert deployed.stdout.splitlines()[-1].startswith("Finished in ")

    clean = invoke(["drift"])
    assert clean.code == 0, clean.stdout + clean.stderr
    assert "No drift on 1 host(s)." in clean.stdout

    settings = fixture_project.output_dir / "settings.conf"
    settings.write_text(settings.read_text().replace("127.0.0.1", "0.0.0.0"))
    drifted = invoke(["drift", "--json"])
    assert drifted.code == 2, drifted.stderr
    data = json.loads(drifted.stdout)
    jsonschema.validate(data, DRIFT_JSON_SCHEMA)
    (host,) = data["hosts"]
    assert host["name"] == "fixture-host"
    assert host["status"] == "drift"
    # The read-only probe ("Read the settings file") is no drift.
    assert [change["task"] for change in host["changes"]] == ["Write the settings file"]
    assert "-listen = 0.0.0.0" in host["changes"][0]["diff"].splitlines()
    assert "+listen = 127.0.0.1" in host["changes"][0]["diff"].splitlines()

    fixed = invoke(["deploy"])
    assert fixed.code == 0
    assert "listen = 127.0.0.1" in settings.read_text()
    assert len(list(fixture_project.runs_dir.iterdir())) == 2


def test_failed_task_exits_1_with_message(invoke: Any, fixture_project: FixtureProject) -> None:
    result = invoke(["deploy", "--tags", "all,fail"])
    assert result.code == 1
    assert "  fixture-host: Fail on purpose (failed)" in result.stdout.splitlines()
    assert "    the fixture failed on purpose" in result.stdout.splitlines()


def test_unreachable_host_exits_3(invoke: Any, fixture_project: FixtureProject) -> None:
    inventory = fixture_project.root / "inventory-unreachable.yml"
    result = invoke(["deploy", "-i", str(inventory)])
    assert result.code == 3, result.stdout + result.stderr
    assert "fixture-unreachable: Write the settings file (unreachable)" in result.stdout
    drift = invoke(["drift", "-i", str(inventory), "--json"])
    assert drift.code == 3
    assert json.loads(drift.stdout)["result"] == "unreachable"


def test_broken_playbook_reports_ansible_error(
    invoke: Any, fixture_project: FixtureProject
) -> None:
    (fixture_project.root / "site.yml").write_text("- name: Broken\n  hosts: all\n  tasks: 3\n")
    result = invoke(["deploy"])
    assert result.code == 1
    first = result.stderr.splitlines()[-2]
    assert first.startswith("Could not run site.yml: ")
    assert "ERROR" in first
    assert result.stderr.splitlines()[-1].startswith("Hint: the whole output is in ")


def test_missing_inventory_is_usage_error(invoke: Any, fixture_project: FixtureProject) -> None:
    result = invoke(["drift", "-i", "no/such/inventory"])
    assert result.code == 64
    assert "Could not read the inventory: no/such/inventory does not exist" in result.stderr
