#!/usr/bin/env python3
"""Print, or write into the role's README, the inputs table of a role.

The table is generated from meta/argument_specs.yml, the single source of a
role's inputs. Usage: role_inputs_table.py ROLE [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN GENERATED INPUTS -->"
END = "<!-- END GENERATED INPUTS -->"


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _description(option: dict[str, Any]) -> str:
    description = option.get("description", "")
    if isinstance(description, list):
        description = " ".join(str(line) for line in description)
    return str(description)


def render_table(role: str) -> str:
    """Return the markdown inputs table of ``role``, entry point by entry point."""
    spec_path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    specs = yaml.safe_load(spec_path.read_text())["argument_specs"]
    lines: list[str] = [BEGIN, ""]
    for entry_point, spec in specs.items():
        options = spec.get("options") or {}
        lines.append(f"Entry point `{entry_point}`: {spec.get('short_description', '')}")
        lines.append("")
        lines.append("| variable | type | default | description |")
        lines.append("|---|---|---|---|")
        for name, option in options.items():
            kind = option.get("type", "str")
            if kind == "list" and option.get("elements"):
                kind = f"list of {option['elements']}"
            if option.get("required"):
                default = "(required)"
            elif "default" in option:
                default = f"`{_cell(option['default'])}`"
            else:
                default = "(none)"
            lines.append(f"| `{name}` | {kind} | {default} | {_cell(_description(option))} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def readme_block(readme: str) -> str | None:
    """Return the generated block in ``readme``, markers included, or None."""
    start = readme.find(BEGIN)
    stop = readme.find(END)
    if start < 0 or stop < start:
        return None
    return readme[start:stop + len(END)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role")
    parser.add_argument("--write", action="store_true",
                        help="replace the block between the markers in roles/ROLE/README.md")
    args = parser.parse_args()
    table = render_table(args.role)
    if not args.write:
        print(table)
        return 0
    readme_path = ROOT / "roles" / args.role / "README.md"
    readme = readme_path.read_text()
    block = readme_block(readme)
    if block is None:
        print(f"{readme_path} has no {BEGIN} ... {END} block; add the two markers first",
              file=sys.stderr)
        return 1
    readme_path.write_text(readme.replace(block, table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
