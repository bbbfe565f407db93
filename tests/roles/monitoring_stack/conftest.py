"""Fixtures for the monitoring_stack role tests: rendering and container tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[2]
ROLE = REPO / "roles" / "monitoring_stack"
# The lab's Prometheus image (Prometheus 2.42 from Debian); promtool runs in it.
PROMTOOL_IMAGE = os.environ.get("WHISPERMON_PROMTOOL_IMAGE", "whispermon-lab/prometheus:debian")


def ansible_env() -> dict[str, str]:
    """Return an environment whose PATH starts with this Python's bin folder."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["ANSIBLE_ROLES_PATH"] = str(REPO / "roles")
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def run_playbook(playbook: str, extra_vars: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """Run a playbook from this folder against the test inventory."""
    return subprocess.run(
        ["ansible-playbook", "-i", str(HERE / "inventory.yml"), str(HERE / playbook),
         "-e", json.dumps(extra_vars)],
        capture_output=True, text=True, env=ansible_env(), cwd=REPO, check=False, timeout=300,
    )


@pytest.fixture(scope="session")
def playbook() -> Callable[[str, dict[str, object]], subprocess.CompletedProcess[str]]:
    """Return run_playbook, for tests that run the role's tasks."""
    return run_playbook


@pytest.fixture(scope="session")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Return a function that renders the role's files with extra vars into a new folder."""
    cache: dict[str, Path] = {}

    def _render(**extra_vars: object) -> Path:
        key = json.dumps(extra_vars, sort_keys=True)
        if key not in cache:
            out = tmp_path_factory.mktemp("render")
            result = run_playbook("render.yml", {"render_dir": str(out), **extra_vars})
            assert result.returncode == 0, result.stdout + result.stderr
            # The containers that check the files run as nobody.
            for path in [out, *out.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            cache[key] = out
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def promtool() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Return a function that runs promtool in the Prometheus image on a folder (at /work)."""
    if shutil.which("docker") is None:
        pytest.skip("docker CLI not found; promtool runs in the lab's Prometheus image")
    probe = subprocess.run(["docker", "image", "inspect", PROMTOOL_IMAGE],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"image {PROMTOOL_IMAGE} not found; build it with 'whispermon lab up'")

    def _promtool(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "run", "--rm", "--network=none", "--pull=never", "--entrypoint=promtool",
             f"--volume={folder}:/work:ro", "--workdir=/work", PROMTOOL_IMAGE, *args],
            capture_output=True, text=True, check=False, timeout=120,
        )

    return _promtool


@pytest.fixture(scope="session")
def compose_config() -> Callable[[Path], subprocess.CompletedProcess[str]]:
    """Return a function that runs 'docker compose config' on a rendered stack folder."""
    if shutil.which("docker") is None:
        pytest.skip("docker CLI not found")
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if version.returncode != 0:
        pytest.skip("the Docker Compose v2 plugin is not installed")

    def _config(folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", f"--file={folder / 'compose.yaml'}",
             f"--project-directory={folder}", "config", "--format=json"],
            capture_output=True, text=True, check=False, timeout=60,
        )

    return _config
