"""Collect drift from a check-mode run: the tasks that would change something.

In check mode with ``--diff``, a task that reports ``changed`` would change its
host on a real run. Read-only probes report ``changed: false``
(``changed_when: false`` in the roles), so they never count as drift.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from whispermon.errors import ExitCode
from whispermon.events import RunTracker, TaskChange

SCHEMA_VERSION = 1
DIFF_LINE_LIMIT = 20

# JSON Schema of ``whispermon drift --json``. The README documents the same
# structure; a test validates real output against it.
DRIFT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version",
        "result",
        "exit_code",
        "duration_seconds",
        "run_dir",
        "summary",
        "hosts",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "result": {"enum": ["clean", "drift", "failed", "unreachable"]},
        "exit_code": {"enum": [0, 1, 2, 3]},
        "duration_seconds": {"type": "number", "minimum": 0},
        "run_dir": {"type": "string"},
        "summary": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "hosts",
                "hosts_with_drift",
                "changes",
                "failed_hosts",
                "unreachable_hosts",
            ],
            "properties": {
                name: {"type": "integer", "minimum": 0}
                for name in (
                    "hosts",
                    "hosts_with_drift",
                    "changes",
                    "failed_hosts",
                    "unreachable_hosts",
                )
            },
        },
        "hosts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "status", "changes", "failures"],
                "properties": {
                    "name": {"type": "string"},
                    "status": {"enum": ["clean", "drift", "failed", "unreachable"]},
                    "changes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": [
                                "play",
                                "role",
                                "task",
                                "action",
                                "handler",
                                "items",
                                "diff",
                            ],
                            "properties": {
                                "play": {"type": "string"},
                                "role": {"type": "string"},
                                "task": {"type": "string"},
                                "action": {"type": "string"},
                                "handler": {"type": "boolean"},
                                "items": {"type": "array", "items": {"type": "string"}},
                                "diff": {"type": "string"},
                            },
                        },
                    },
                    "failures": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["task", "message", "unreachable"],
                            "properties": {
                                "task": {"type": "string"},
                                "message": {"type": "string"},
                                "unreachable": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def _as_lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [f"{key}: {value[key]}" for key in sorted(value)]
    return str(value).splitlines()


def _diff_entry_lines(entry: dict[str, Any]) -> list[str]:
    if "prepared" in entry:
        return str(entry["prepared"]).splitlines()
    before = entry.get("before")
    after = entry.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        # Attribute diffs from the file module: {"path": ..., "mode": "0644"} -> {...}.
        return [
            f"{key}: {before.get(key)!r} -> {after.get(key)!r}"
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        ]
    before_name = str(entry.get("before_header") or "before")
    after_name = str(entry.get("after_header") or "after")
    return list(
        difflib.unified_diff(
            _as_lines(before), _as_lines(after), before_name, after_name, lineterm="", n=1
        )
    )


def short_diff(diffs: tuple[dict[str, Any], ...], limit: int = DIFF_LINE_LIMIT) -> str:
    """Render Ansible diff entries as at most ``limit`` lines of text."""
    lines: list[str] = []
    if not diffs:
        return ""
    for entry in diffs:
        lines.extend(_diff_entry_lines(entry))
    if len(lines) > limit:
        hidden = len(lines) - limit
        lines = [*lines[:limit], f"... {hidden} more line{'s' if hidden != 1 else ''}"]
    return "\n".join(lines)


@dataclass
class HostDrift:
    """The drift found on one host."""

    name: str
    changes: list[TaskChange] = field(default_factory=list)
    failures: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``unreachable``, ``failed``, ``drift`` or ``clean``, in that order of precedence."""
        if any(unreachable for _, _, unreachable in self.failures):
            return "unreachable"
        if self.failures:
            return "failed"
        return "drift" if self.changes else "clean"


@dataclass
class DriftReport:
    """Drift per host, and how the check-mode run ended."""

    hosts: list[HostDrift]
    run_failed: bool
    duration: float
    run_dir: str

    @property
    def exit_code(self) -> ExitCode:
        """The exit code: 3 if a host is unreachable, else 1 on failure, 2 on drift, 0."""
        statuses = {host.status for host in self.hosts}
        if "unreachable" in statuses:
            return ExitCode.UNREACHABLE
        if "failed" in statuses or self.run_failed:
            return ExitCode.FAILED
        if "drift" in statuses:
            return ExitCode.DRIFT
        return ExitCode.OK

    @property
    def result(self) -> str:
        """The exit code as a word: clean, drift, failed or unreachable."""
        return {
            ExitCode.OK: "clean",
            ExitCode.DRIFT: "drift",
            ExitCode.FAILED: "failed",
            ExitCode.UNREACHABLE: "unreachable",
        }[self.exit_code]

    def to_json(self) -> dict[str, Any]:
        """Return the documented ``drift --json`` structure (see DRIFT_JSON_SCHEMA)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "result": self.result,
            "exit_code": int(self.exit_code),
            "duration_seconds": round(self.duration, 3),
            "run_dir": self.run_dir,
            "summary": {
                "hosts": len(self.hosts),
                "hosts_with_drift": sum(1 for host in self.hosts if host.changes),
                "changes": sum(len(host.changes) for host in self.hosts),
                "failed_hosts": sum(1 for host in self.hosts if host.status == "failed"),
                "unreachable_hosts": sum(1 for host in self.hosts if host.status == "unreachable"),
            },
            "hosts": [
                {
                    "name": host.name,
                    "status": host.status,
                    "changes": [
                        {
                            "play": change.play,
                            "role": change.role,
                            "task": change.task,
                            "action": change.action,
                            "handler": change.handler,
                            "items": list(change.items),
                            "diff": short_diff(change.diffs),
                        }
                        for change in host.changes
                    ],
                    "failures": [
                        {"task": task, "message": message, "unreachable": unreachable}
                        for task, message, unreachable in host.failures
                    ],
                }
                for host in self.hosts
            ],
        }


def collect_drift(
    tracker: RunTracker, *, run_failed: bool, duration: float, run_dir: str
) -> DriftReport:
    """Group the changed and failed tasks of a check-mode run by host."""
    hosts: dict[str, HostDrift] = {name: HostDrift(name) for name in tracker.hosts}
    for change in tracker.changes:
        hosts.setdefault(change.host, HostDrift(change.host)).changes.append(change)
    for failure in tracker.failures:
        hosts.setdefault(failure.host, HostDrift(failure.host)).failures.append(
            (failure.task, failure.message, failure.unreachable)
        )
    ordered = [hosts[name] for name in sorted(hosts)]
    return DriftReport(ordered, run_failed=run_failed, duration=duration, run_dir=run_dir)
