"""Every PowerShell script in the roles parses with tree-sitter-powershell.

Covers inline scripts of ansible.windows.win_shell and win_powershell tasks
in roles/*/tasks/*.yml and roles/*/handlers/*.yml, and every
roles/*/files/**/*.ps1 and roles/*/templates/**/*.ps1.j2. Jinja expressions
are replaced with a placeholder and Jinja statements removed first. A parse
without ERROR or MISSING nodes proves syntax only, not behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_powershell
import yaml
from tree_sitter import Language, Node, Parser

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
SHELL_MODULES = {
    "ansible.windows.win_shell": ("_raw_params", "cmd"),
    "ansible.windows.win_powershell": ("script",),
}
PARSER = Parser(Language(tree_sitter_powershell.language()))

JINJA_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
JINJA_STATEMENT = re.compile(r"\{%.*?%\}", re.DOTALL)
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
# A script given as a lookup of a role file is checked as that file instead.
FILE_LOOKUP = re.compile(r"^\{\{\s*lookup\(\s*'(?:ansible\.builtin\.)?(file|template)'")


def render_placeholders(text: str) -> str:
    """Replace Jinja with text PowerShell accepts wherever a value can stand."""
    text = JINJA_COMMENT.sub("", text)
    text = JINJA_STATEMENT.sub("", text)
    return JINJA_EXPRESSION.sub("0", text)


def syntax_errors(script: str) -> list[str]:
    """Return the position and kind of every ERROR or MISSING node."""
    tree = PARSER.parse(script.encode("utf-8"))
    problems: list[str] = []

    def visit(node: Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            kind = f"missing {node.type}" if node.is_missing else "syntax error"
            problems.append(f"line {row + 1} column {column + 1}: {kind}")
        for child in node.children:
            visit(child)

    visit(tree.root_node)
    if tree.root_node.has_error and not problems:
        problems.append("tree-sitter reports an error without an ERROR node")
    return problems


def iter_tasks(items: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    for item in items or []:
        if any(section in item for section in ("block", "rescue", "always")):
            for section in ("block", "rescue", "always"):
                yield from iter_tasks(item.get(section))
        else:
            yield item


def inline_scripts() -> list[tuple[str, str]]:
    """Return (label, script) for every inline PowerShell in role tasks and handlers."""
    scripts: list[tuple[str, str]] = []
    for path in sorted([*ROLES.glob("*/tasks/*.yml"), *ROLES.glob("*/handlers/*.yml")]):
        for task in iter_tasks(yaml.safe_load(path.read_text())):
            for module, keys in SHELL_MODULES.items():
                if module not in task:
                    continue
                arguments = task[module]
                values = (
                    [arguments]
                    if isinstance(arguments, str)
                    else [arguments.get(key) for key in keys]
                )
                for value in values:
                    if isinstance(value, str) and not FILE_LOOKUP.match(value.strip()):
                        label = f"{path.relative_to(REPO)}: {task.get('name')}"
                        scripts.append((label, value))
    return scripts


def script_files() -> list[Path]:
    return sorted([*ROLES.glob("*/files/**/*.ps1"), *ROLES.glob("*/templates/**/*.ps1.j2")])


INLINE_SCRIPTS = inline_scripts() or [
    pytest.param(
        "none", "", marks=pytest.mark.skip(reason="no role has an inline PowerShell script")
    )
]


@pytest.mark.parametrize(("label", "script"), INLINE_SCRIPTS, ids=lambda value: str(value)[:60])
def test_inline_script_parses(label: str, script: str) -> None:
    problems = syntax_errors(render_placeholders(script))
    assert not problems, f"{label}: " + "; ".join(problems)


@pytest.mark.parametrize("path", script_files(), ids=lambda path: str(path.relative_to(ROLES)))
def test_script_file_parses(path: Path) -> None:
    problems = syntax_errors(render_placeholders(path.read_text(encoding="utf-8-sig")))
    assert not problems, f"{path.relative_to(REPO)}: " + "; ".join(problems)


def test_role_scripts_found() -> None:
    assert any(path.name == "Set-OpenSshKeyFileAcl.ps1" for path in script_files())


def test_checker_reports_unclosed_block() -> None:
    assert syntax_errors('function Test-It {\n    if ($x -eq 1) { "a"\n')


def test_checker_reports_broken_expression() -> None:
    assert syntax_errors("$value = (1 + \n")


def test_checker_accepts_valid_script() -> None:
    assert syntax_errors('param ([string] $Name)\nif ($Name) { Write-Output "hi $Name" }\n') == []


def test_placeholders_keep_script_valid() -> None:
    template = (
        "{# comment #}\n{% if x %}\n$port = {{ port }}\n$path = '{{ dir }}\\file'\n{% endif %}\n"
    )
    rendered = render_placeholders(template)
    assert "{{" not in rendered
    assert syntax_errors(rendered) == []
