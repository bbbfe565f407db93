"""Every ansible_winrm_server_cert_validation the project sets is "ignore" or "validate".

pywinrm accepts only those two strings; a YAML boolean such as `false` makes
the host unreachable. The test reads every file under inventory/ and every
molecule/*/molecule.yml, YAML and INI alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VARIABLE = "ansible_winrm_server_cert_validation"
ALLOWED = ("ignore", "validate")
INI_SETTING = re.compile(rf"\b{VARIABLE}\s*=\s*(\S+)")


def project_files() -> list[Path]:
    inventory = [path for path in (REPO / "inventory").rglob("*") if path.is_file()]
    return sorted([*inventory, *(REPO / "molecule").glob("*/molecule.yml")])


def find_values(node: Any, trail: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (path, value) for every occurrence of the variable in a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{trail}.{key}" if trail else str(key)
            if key == VARIABLE:
                yield here, value
            yield from find_values(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from find_values(value, f"{trail}[{index}]")


def problems_in(text: str, source: str) -> list[str]:
    """Return one message per setting of the variable that pywinrm would reject."""
    problems: list[str] = []
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        documents = None
    if documents is None or (VARIABLE in text and not any(find_values(d) for d in documents)):
        # Not YAML, or an INI inventory line such as "host var=value".
        for match in INI_SETTING.finditer(text):
            value = match.group(1).strip("'\"")
            if value not in ALLOWED:
                problems.append(f"{source}: {VARIABLE}={match.group(1)}; use ignore or validate")
        return problems
    for document in documents:
        for where, value in find_values(document):
            if not isinstance(value, str) or value not in ALLOWED:
                problems.append(
                    f"{source}: {where} is {value!r} ({type(value).__name__}); "
                    'use the string "ignore" or "validate"'
                )
    return problems


@pytest.mark.parametrize("path", project_files(), ids=lambda path: str(path.relative_to(REPO)))
def test_cert_validation_is_allowed_string(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip(f"{path} is not text")
    problems = problems_in(text, str(path.relative_to(REPO)))
    assert not problems, "\n".join(problems)


def test_windows_scenario_is_read() -> None:
    assert REPO / "molecule" / "windows" / "molecule.yml" in project_files()


def test_checker_rejects_boolean() -> None:
    problems = problems_in(f"all:\n  vars:\n    {VARIABLE}: false\n", "sample.yml")
    assert len(problems) == 1
    assert "(bool)" in problems[0]


def test_checker_rejects_other_string_in_molecule_file() -> None:
    sample = (
        "platforms:\n  - name: w\nprovisioner:\n  inventory:\n    host_vars:\n"
        f"      w:\n        {VARIABLE}: 'no'\n"
    )
    assert len(problems_in(sample, "molecule.yml")) == 1


def test_checker_rejects_ini_value() -> None:
    sample = f"[windows]\nserver1 ansible_host=192.0.2.5 {VARIABLE}=False\n"
    assert len(problems_in(sample, "hosts.ini")) == 1


def test_checker_accepts_both_strings() -> None:
    for value in ALLOWED:
        assert problems_in(f"{VARIABLE}: {value}\n", "sample.yml") == []
