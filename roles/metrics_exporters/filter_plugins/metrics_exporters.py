"""Jinja2 filters for the metrics_exporters role.

The module imports nothing from Ansible, so plain Python can load it too.
"""

from __future__ import annotations

import subprocess
import urllib.parse
from collections.abc import Sequence
from typing import Any


def percent_encode(value: Any) -> str:
    """Percent-encode every character outside RFC 3986's unreserved set.

    Jinja's ``urlencode`` keeps ``/`` as it is, which breaks a user or
    database name inside a ``postgresql://`` URI.
    """
    return urllib.parse.quote(str(value), safe="")


def systemd_env_quote(value: Any) -> str:
    """Quote a value for a systemd EnvironmentFile line.

    systemd reads a double-quoted value shell-like: a backslash escapes
    ``"``, ``\\``, ``$`` and backquote. Line breaks are rejected because an
    environment file line cannot carry them.
    """
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError("a value for a systemd environment file cannot contain a line break")
    for char in ("\\", '"', "$", "`"):
        text = text.replace(char, "\\" + char)
    return f'"{text}"'


def pgpass_escape(value: Any) -> str:
    """Escape a field of a PostgreSQL password file (backslash and colon)."""
    return str(value).replace("\\", "\\\\").replace(":", "\\:")


def windows_command_line(arguments: Sequence[Any]) -> str:
    """Join arguments into one Windows command line.

    Uses the quoting rules of the Microsoft C runtime (CommandLineToArgvW),
    which Go programs on Windows also follow, so an argument such as
    ``--config=C:\\Program Files\\x.yml`` arrives as one argument.
    """
    return subprocess.list2cmdline([str(argument) for argument in arguments])


class FilterModule:
    """Filters that build the exporters' connection strings and command lines."""

    def filters(self) -> dict[str, Any]:
        return {
            "metrics_exporters_percent_encode": percent_encode,
            "metrics_exporters_systemd_env_quote": systemd_env_quote,
            "metrics_exporters_pgpass_escape": pgpass_escape,
            "metrics_exporters_windows_command_line": windows_command_line,
        }
