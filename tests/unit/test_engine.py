"""The Docker engine check reports what is missing instead of failing obscurely."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from whispermon.errors import WhispermonError
from whispermon.lab import engine


def test_unreachable_engine_raises_with_hint(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/missing.sock")
    with pytest.raises(WhispermonError) as raised:
        engine.ensure_engine(tmp_path, install=False)
    assert str(raised.value) == "Could not reach a Docker engine: 'docker info' got no answer"
    assert "start Docker" in raised.value.hint


def test_missing_docker_cli_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert engine.engine_answers() is False
    with pytest.raises(WhispermonError, match="docker command is not installed"):
        engine.docker("info")


def test_cli_reports_engine_error(tmp_path: Path, tool_env: dict[str, str]) -> None:
    env = {**tool_env, "DOCKER_HOST": f"unix://{tmp_path}/missing.sock"}
    result = subprocess.run(["whispermon", "lab", "status"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Could not reach a Docker engine" in output
    assert "Traceback" not in output
