"""Every task of the role passes only options its module documents.

The Windows branch cannot run here, so this is the check that its module
arguments are at least valid: each key is compared with `ansible-doc -j`.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from .conftest import ROLE, ansible_env

# set_fact takes variable names as its arguments, not documented options.
FREE_KEY_MODULES = {"ansible.builtin.set_fact"}
TASK_KEYWORDS = {
    "name", "when", "loop", "loop_control", "register", "notify", "listen", "vars", "tags",
    "become", "delegate_to", "run_once", "changed_when", "failed_when", "check_mode", "no_log",
    "until", "retries", "delay", "environment", "ignore_errors", "block", "rescue", "always",
}


def role_tasks() -> list[tuple[str, str, dict[str, Any]]]:
    """Return (file, module, arguments) for every task in tasks/ and handlers/."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for path in sorted([*ROLE.glob("tasks/*.yml"), *ROLE.glob("handlers/*.yml")]):
        for task in yaml.safe_load(path.read_text()) or []:
            modules = [key for key in task if key not in TASK_KEYWORDS]
            name = task.get("name")
            assert len(modules) == 1, f"{path.name}: task {name!r} has modules {modules}"
            arguments = task[modules[0]]
            found.append((path.name, modules[0], arguments if isinstance(arguments, dict) else {}))
    return found


TASKS = role_tasks()
CHECKED_TASKS = [task for task in TASKS if task[1] not in FREE_KEY_MODULES]


@pytest.fixture(scope="module")
def documented() -> dict[str, set[str]]:
    modules = sorted({module for _, module, _ in TASKS})
    done = subprocess.run(["ansible-doc", "-j", *modules], capture_output=True, text=True,
                          env=ansible_env(), timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    docs = json.loads(done.stdout)
    options: dict[str, set[str]] = {}
    for module in modules:
        assert module in docs, f"ansible-doc does not know {module}"
        names: set[str] = set()
        for name, option in (docs[module]["doc"].get("options") or {}).items():
            names.add(name)
            names.update(option.get("aliases") or [])
        options[module] = names
    return options


def test_modules_fully_qualified() -> None:
    short = [f"{file}: {module}" for file, module, _ in TASKS if module.count(".") < 2]
    assert not short


def test_windows_branch_uses_windows_modules() -> None:
    windows_files = {"setup-Windows.yml", "configure-Windows.yml", "service-Windows.yml"}
    posix_modules = {"ansible.builtin.copy", "ansible.builtin.template",
                     "ansible.builtin.file", "ansible.builtin.command"}
    linux_only = [f"{file}: {module}" for file, module, _ in TASKS
                  if file in windows_files and module in posix_modules]
    assert not linux_only


CHECKED_IDS = [f"{file}-{index}-{module}" for index, (file, module, _) in enumerate(CHECKED_TASKS)]


@pytest.mark.parametrize(("file", "module", "arguments"), CHECKED_TASKS, ids=CHECKED_IDS)
def test_task_options_documented(documented: dict[str, set[str]], file: str, module: str,
                                 arguments: dict[str, Any]) -> None:
    unknown = sorted(set(arguments) - documented[module])
    assert not unknown, f"{file}: {module} has no options {unknown}"
