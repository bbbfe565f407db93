"""Fixtures for the CLI tests: a copy of the fixture project and a private state directory."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FIXTURE_PROJECT = HERE / "fixtures" / "project"

# The suite runs with --import-mode=importlib, which puts no test folder on
# sys.path; the helpers in cli_streams.py and cli_support.py are imported by name.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from cli_support import CliResult, FixtureProject  # noqa: E402


@pytest.fixture
def fixture_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FixtureProject:
    """Point whispermon at a fresh copy of the fixture project, with its own state directory."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, root)
    output_dir = tmp_path / "output"
    output_dir.mkdir()
    state = tmp_path / "state"
    monkeypatch.setenv("WHISPERMON_PROJECT_DIR", str(root))
    monkeypatch.setenv("WHISPERMON_FIXTURE_DIR", str(output_dir))
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    for name in ("NO_COLOR", "FORCE_COLOR", "WHISPERMON_KEEP_RUNS", "ANSIBLE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return FixtureProject(root, output_dir, state)


@pytest.fixture
def invoke(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Return a function that runs the CLI in-process and returns its exit code and output."""
    from whispermon.cli import run

    def _invoke(argv: Sequence[str]) -> CliResult:
        capsys.readouterr()
        code = run(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _invoke
