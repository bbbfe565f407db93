"""Each role's argument spec, defaults and README inputs table agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def role_names() -> list[str]:
    return sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta").is_dir())


_spec = importlib.util.spec_from_file_location("role_inputs_table",
                                               ROOT / "scripts" / "role_inputs_table.py")
assert _spec is not None and _spec.loader is not None
role_inputs_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(role_inputs_table)


def _spec_options(role: str) -> dict[str, dict[str, Any]]:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options: dict[str, dict[str, Any]] = {}
    for entry in specs["argument_specs"].values():
        options.update(entry.get("options") or {})
    return options


def _defaults(role: str) -> dict[str, Any]:
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


@pytest.mark.parametrize("role", role_names())
def test_role_has_argument_specs(role: str) -> None:
    assert (ROOT / "roles" / role / "meta" / "argument_specs.yml").is_file()


@pytest.mark.parametrize("role", role_names())
def test_defaults_keys_in_spec(role: str) -> None:
    undocumented = sorted(set(_defaults(role)) - set(_spec_options(role)))
    assert not undocumented, f"{role}: defaults not in argument_specs: {undocumented}"


@pytest.mark.parametrize("role", role_names())
def test_spec_defaults_match_defaults_file(role: str) -> None:
    defaults = _defaults(role)
    for name, option in _spec_options(role).items():
        if "default" not in option:
            continue
        assert name in defaults, f"{role}: {name} has a spec default but none in defaults/main.yml"
        assert option["default"] == defaults[name], (
            f"{role}: {name} is {defaults[name]!r} in defaults but {option['default']!r} in spec")


@pytest.mark.parametrize("role", role_names())
def test_spec_options_described(role: str) -> None:
    missing = [name for name, option in _spec_options(role).items()
               if not option.get("description")]
    assert not missing, f"{role}: options without description: {missing}"


@pytest.mark.parametrize("role", role_names())
def test_readme_inputs_table_current(role: str) -> None:
    readme = (ROOT / "roles" / role / "README.md").read_text()
    block = role_inputs_table.readme_block(readme)
    assert block is not None, f"{role}/README.md lacks the generated inputs markers"
    assert block == role_inputs_table.render_table(role), (
        f"{role}/README.md inputs table is stale; run scripts/role_inputs_table.py {role} --write")
