"""Every linter the project uses, run on the whole tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

LINTERS = {
    "yamllint": ["yamllint", "--strict", "."],
    "ansible-lint": ["ansible-lint", "--offline", "--profile", "production"],
    "ruff": ["ruff", "check", "src", "tests", "scripts", "benchmarks", "molecule"],
    "mypy": ["mypy", "--strict", "src/whispermon"],
    "syntax-check": ["ansible-playbook", "--syntax-check", "-i", "inventory/lab", "site.yml"],
}


@pytest.mark.parametrize("linter", sorted(LINTERS))
def test_linter_passes(linter: str, project_dir: Path, tool_env: dict[str, str]) -> None:
    result = subprocess.run(LINTERS[linter], cwd=project_dir, env=tool_env,
                            capture_output=True, text=True, timeout=900)
    output = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"{linter} failed:\n{output}"
