"""requirements.yml: both copies agree, and the pinned ansible package satisfies them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from ansible.module_utils.compat.version import LooseVersion


def _ranges_met(version: str, ranges: str) -> bool:
    for condition in ranges.split(","):
        condition = condition.strip()
        for operator in (">=", "<=", "==", "!=", ">", "<"):
            if condition.startswith(operator):
                bound = LooseVersion(condition[len(operator):])
                have = LooseVersion(version)
                met = {
                    ">=": have >= bound, "<=": have <= bound, "==": have == bound,
                    "!=": have != bound, ">": have > bound, "<": have < bound,
                }[operator]
                if not met:
                    return False
                break
    return True


def test_requirements_copies_identical(project_dir: Path) -> None:
    top = (project_dir / "requirements.yml").read_text()
    awx = (project_dir / "collections" / "requirements.yml").read_text()
    assert top == awx, "collections/requirements.yml differs from requirements.yml"


def test_installed_collections_meet_ranges(project_dir: Path, tool_env: dict[str, str]) -> None:
    listing = subprocess.run(["ansible-galaxy", "collection", "list", "--format", "json"],
                             capture_output=True, text=True, env=tool_env, check=True)
    installed: dict[str, str] = {}
    for collections in json.loads(listing.stdout).values():
        for name, info in collections.items():
            installed.setdefault(name, info["version"])
    wanted = yaml.safe_load((project_dir / "requirements.yml").read_text())["collections"]
    for entry in wanted:
        assert entry["name"] in installed, f"{entry['name']} is not installed"
        version = installed[entry["name"]]
        assert _ranges_met(version, entry["version"]), (
            f"{entry['name']} {version} is outside {entry['version']}")


def test_range_check_rejects_too_old() -> None:
    assert not _ranges_met("3.3.0", ">=3.8.0,<4.0.0")
    assert _ranges_met("3.8.0", ">=3.8.0,<4.0.0")
    assert not _ranges_met("4.0.0", ">=3.8.0,<4.0.0")
