"""Every task argument in every role is a documented option of its module.

Windows tasks cannot run here, so a misspelt option (`statr:` for `state:`)
would surface only on a real host. This test reads roles/*/tasks/*.yml and
roles/*/handlers/*.yml, finds each task's module by its FQCN key, and checks
every argument against `ansible-doc -j` for that module (options and their
aliases). Task keywords come from Ansible's own Task and Block classes.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.playbook.block import Block
from ansible.playbook.handler import Handler
from ansible.playbook.task import Task

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"

# Keywords of a task, handler or block (name, when, loop, register, vars,
# tags, no_log, changed_when, listen, ...), as the installed ansible-core
# defines them.
TASK_KEYWORDS = (
    frozenset(Task.fattributes)
    | frozenset(Handler.fattributes)
    | frozenset(Block.fattributes)
    | {"local_action"}
)
# Modules whose arguments are free-form keys rather than documented options.
FREE_FORM_MODULES = frozenset({"ansible.builtin.set_fact", "ansible.builtin.set_stats"})
# Block sections whose items are tasks.
BLOCK_SECTIONS = ("block", "rescue", "always")


def task_files() -> list[Path]:
    return sorted([*ROLES.glob("*/tasks/*.yml"), *ROLES.glob("*/handlers/*.yml")])


def iter_tasks(items: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Yield every task in a task list, descending into blocks."""
    for item in items or []:
        if any(section in item for section in BLOCK_SECTIONS):
            for section in BLOCK_SECTIONS:
                yield from iter_tasks(item.get(section))
        else:
            yield item


def module_of(task: dict[str, Any]) -> tuple[str, Any]:
    """Return the module key of a task and its arguments."""
    candidates = [key for key in task if key not in TASK_KEYWORDS and not key.startswith("with_")]
    if len(candidates) != 1:
        raise ValueError(f"task {task.get('name')!r} has module keys {candidates}, expected one")
    return candidates[0], task[candidates[0]]


def ansible_doc(modules: list[str]) -> dict[str, Any]:
    """Run `ansible-doc -j` once for several modules; return name -> doc for those it found."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    done = subprocess.run(
        ["ansible-doc", "-j", *modules],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    if not done.stdout.strip():
        return {}
    documents = json.loads(done.stdout)
    return {name: entry["doc"] for name, entry in documents.items() if entry and "doc" in entry}


@functools.cache
def all_role_docs() -> dict[str, Any]:
    """Fetch the docs of every module the roles use in one ansible-doc run."""
    modules: set[str] = set()
    for path in task_files():
        for task in iter_tasks(yaml.safe_load(path.read_text())):
            try:
                module, _ = module_of(task)
            except ValueError:
                continue
            if "." in module:
                modules.add(module)
    return ansible_doc(sorted(modules)) if modules else {}


@functools.cache
def module_doc(module: str) -> dict[str, Any] | None:
    """Return the documentation of one module, or None if ansible-doc does not know it."""
    docs = all_role_docs()
    if module in docs:
        return dict(docs[module])
    return ansible_doc([module]).get(module)


def accepted_options(doc: dict[str, Any]) -> set[str]:
    options = doc.get("options") or {}
    names = set(options)
    for option in options.values():
        names.update(option.get("aliases") or [])
    return names


def check_tasks(tasks: list[dict[str, Any]] | None, source: str) -> list[str]:
    """Return one message per unknown module or undocumented argument."""
    problems: list[str] = []
    for task in iter_tasks(tasks):
        label = f"{source}: task {task.get('name')!r}"
        try:
            module, arguments = module_of(task)
        except ValueError as error:
            problems.append(f"{source}: {error}")
            continue
        if "." not in module:
            problems.append(f"{label} uses {module!r}; write the module's FQCN")
            continue
        doc = module_doc(module)
        if doc is None:
            problems.append(f"{label}: ansible-doc does not know the module {module}")
            continue
        if module in FREE_FORM_MODULES or not isinstance(arguments, dict):
            continue
        known = accepted_options(doc)
        for argument in arguments:
            if argument not in known:
                problems.append(f"{label}: {module} has no option {argument!r}")
    return problems


@pytest.mark.parametrize("path", task_files(), ids=lambda path: str(path.relative_to(ROLES)))
def test_task_arguments_documented(path: Path) -> None:
    problems = check_tasks(yaml.safe_load(path.read_text()), str(path.relative_to(REPO)))
    assert not problems, "\n".join(problems)


def test_role_task_files_found() -> None:
    assert any(path.match("openssh_server/tasks/setup-Windows.yml") for path in task_files())


def test_checker_reports_misspelt_option() -> None:
    broken = [
        {"name": "Start sshd", "ansible.windows.win_service": {"name": "sshd", "statr": "started"}}
    ]
    problems = check_tasks(broken, "sample")
    assert len(problems) == 1
    assert "'statr'" in problems[0]


def test_checker_reports_unknown_module() -> None:
    broken = [{"name": "Install", "ansible.windows.win_no_such_module": {"name": "x"}}]
    assert "does not know the module" in "".join(check_tasks(broken, "sample"))


def test_checker_reads_blocks_and_aliases() -> None:
    sample = [
        {
            "name": "Group",
            "block": [
                {"name": "Delete", "ansible.windows.win_file": {"dest": "C:\\x", "state": "absent"}}
            ],
            "rescue": [
                {"name": "Bad", "ansible.windows.win_file": {"path": "C:\\x", "mode": "0600"}}
            ],
        }
    ]
    problems = check_tasks(sample, "sample")
    assert problems == ["sample: task 'Bad': ansible.windows.win_file has no option 'mode'"]


def test_checker_requires_fqcn() -> None:
    problems = check_tasks([{"name": "Copy", "win_copy": {"src": "a", "dest": "b"}}], "sample")
    assert "FQCN" in problems[0]
