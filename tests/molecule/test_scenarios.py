"""Run every molecule scenario under molecule/ with `molecule test`.

Each scenario converges its role on lab containers, checks idempotence and
runs its verify step. The `windows` scenario needs a real Windows host and is
skipped without WHISPERMON_WINDOWS_HOST.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
LOG_DIR = ROOT / ".cache" / "molecule-logs"
# The end-to-end scenario runs last: it takes longest and needs the others' roles working.
ORDER = sorted(SCENARIOS, key=lambda name: (name == "default", name))


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", ORDER)
def test_molecule_scenario(scenario: str, tool_env: dict[str, str]) -> None:
    if scenario == "windows" and not os.environ.get("WHISPERMON_WINDOWS_HOST"):
        pytest.skip("windows scenario needs a real host: set WHISPERMON_WINDOWS_HOST, "
                    "WHISPERMON_WINDOWS_USER and WHISPERMON_WINDOWS_PASSWORD")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{scenario}.log"
    with log_path.open("w") as log:
        result = subprocess.run(["molecule", "test", "-s", scenario], cwd=ROOT, env=tool_env,
                                stdout=log, stderr=subprocess.STDOUT, timeout=3600)
    tail = "\n".join(log_path.read_text().splitlines()[-60:])
    assert result.returncode == 0, f"molecule test -s {scenario} failed (log {log_path}):\n{tail}"
