"""Turn ansible-runner's event stream into progress state and a per-host summary.

ansible-runner calls back with one dict per Ansible event (``playbook_on_task_start``,
``runner_on_ok``, ``playbook_on_stats`` ...). ``RunTracker`` folds them into the
current play and task, counts per host, the failed tasks, and the tasks that
reported a change (in check mode: the tasks that would change something).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# Events that carry one host's result for one task.
_RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}
_OUTPUT_EVENTS = frozenset({"verbose", "error", "warning", "deprecated"})
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MESSAGE_LIMIT = 500


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes from ansible-playbook output."""
    return _ANSI_ESCAPE.sub("", text)


@dataclass
class HostCounts:
    """Task results of one host, counted the way ansible-playbook's recap counts them."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0
    last_task: str = ""
    last_status: str = ""


@dataclass(frozen=True)
class TaskFailure:
    """A task that failed on a host, or a host that could not be reached."""

    host: str
    play: str
    task: str
    message: str
    unreachable: bool = False


@dataclass(frozen=True)
class TaskChange:
    """A task that changed (or in check mode would change) something on a host."""

    host: str
    play: str
    task: str
    role: str
    action: str
    handler: bool
    diffs: tuple[dict[str, Any], ...]
    items: tuple[str, ...]


@dataclass(frozen=True)
class TaskResult:
    """One host's raw result for one task, kept for commands that read results (doctor)."""

    host: str
    play: str
    task: str
    status: str
    result: dict[str, Any]


def failure_message(result: dict[str, Any]) -> str:
    """Return a one-paragraph message for a failed or unreachable result."""
    if result.get("results") and isinstance(result["results"], list):
        messages = [
            f"{item.get('_ansible_item_label', item.get('item', '?'))}: {failure_message(item)}"
            for item in result["results"]
            if isinstance(item, dict) and (item.get("failed") or item.get("unreachable"))
        ]
        if messages:
            return "; ".join(messages)[:_MESSAGE_LIMIT]
    parts: list[str] = []
    message = str(result.get("msg") or "").strip()
    if message:
        parts.append(message)
    stderr = str(result.get("stderr") or "").strip()
    if stderr:
        parts.append(stderr.splitlines()[-1])
    elif not message and result.get("stdout"):
        parts.append(str(result["stdout"]).strip().splitlines()[-1])
    if result.get("censored"):
        parts.append(str(result["censored"]))
    text = " | ".join(parts) or "no message (run with -v and see the run directory)"
    text = strip_ansi(text)
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def _collect_diffs(result: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    diffs: list[dict[str, Any]] = []
    raw = result.get("diff")
    if isinstance(raw, dict):
        diffs.append(raw)
    elif isinstance(raw, list):
        diffs.extend(entry for entry in raw if isinstance(entry, dict))
    for item in result.get("results") or []:
        if isinstance(item, dict) and item.get("changed"):
            diffs.extend(_collect_diffs(item))
    return tuple(diffs)


def _changed_items(result: dict[str, Any]) -> tuple[str, ...]:
    labels: list[str] = []
    for item in result.get("results") or []:
        if isinstance(item, dict) and item.get("changed"):
            labels.append(str(item.get("_ansible_item_label", item.get("item", ""))))
    return tuple(labels)


@dataclass
class RunTracker:
    """Fold ansible-runner events into progress state and the end-of-run summary."""

    keep_results: bool = False
    play: str = ""
    task: str = ""
    in_handlers: bool = False
    hosts: dict[str, HostCounts] = field(default_factory=dict)
    failures: list[TaskFailure] = field(default_factory=list)
    changes: list[TaskChange] = field(default_factory=list)
    results: list[TaskResult] = field(default_factory=list)
    stats_seen: bool = False
    output_tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    event_count: int = 0

    def host(self, name: str) -> HostCounts:
        """Return the counters of ``name``, creating them on first sight."""
        if name not in self.hosts:
            self.hosts[name] = HostCounts()
        return self.hosts[name]

    def handle(self, event: dict[str, Any]) -> None:
        """Update the state from one ansible-runner event."""
        self.event_count += 1
        kind = str(event.get("event", ""))
        data = event.get("event_data") or {}

        if kind == "playbook_on_play_start":
            self.play = str(data.get("name") or data.get("play") or "")
            self.task = ""
            self.in_handlers = False
        elif kind == "playbook_on_task_start":
            self.task = str(data.get("task") or data.get("name") or "")
            self.in_handlers = False
        elif kind == "playbook_on_handler_task_start":
            self.task = str(data.get("task") or data.get("name") or "")
            self.in_handlers = True
        elif kind in _RESULT_EVENTS:
            self._handle_result(_RESULT_EVENTS[kind], data, str(event.get("stdout") or ""))
        elif kind == "playbook_on_stats":
            self._handle_stats(data)
        elif kind in _OUTPUT_EVENTS:
            for line in strip_ansi(str(event.get("stdout") or "")).splitlines():
                if line.strip():
                    self.output_tail.append(line.rstrip())

    def _handle_result(self, status: str, data: dict[str, Any], stdout: str) -> None:
        host_name = str(data.get("host") or "?")
        raw_result = data.get("res")
        result: dict[str, Any] = raw_result if isinstance(raw_result, dict) else {}
        if "censored" in result and "changed" not in result:
            # A no_log result reaches the callback without its "changed" key
            # (ansible-core 2.21); only the printed line still starts with "changed:".
            changed = strip_ansi(stdout).lstrip().startswith("changed:")
            result = {**result, "changed": changed}
        task = str(data.get("task") or self.task)
        play = str(data.get("play") or self.play)
        counts = self.host(host_name)
        counts.last_task = task
        ignored = bool(data.get("ignore_errors"))

        if status == "ok":
            # Like ansible-playbook's recap, "ok" also counts the changed results.
            counts.ok += 1
            if result.get("changed"):
                counts.changed += 1
                counts.last_status = "changed"
                self.changes.append(
                    TaskChange(
                        host=host_name,
                        play=play,
                        task=task,
                        role=str(data.get("role") or ""),
                        action=str(data.get("resolved_action") or data.get("task_action") or ""),
                        handler=self.in_handlers,
                        diffs=_collect_diffs(result),
                        items=_changed_items(result),
                    )
                )
            else:
                counts.last_status = "ok"
        elif status == "failed":
            if ignored:
                counts.ok += 1
                counts.ignored += 1
                counts.last_status = "ignored"
            else:
                counts.failed += 1
                counts.last_status = "failed"
                self.failures.append(TaskFailure(host_name, play, task, failure_message(result)))
        elif status == "unreachable":
            counts.unreachable += 1
            counts.last_status = "unreachable"
            self.failures.append(
                TaskFailure(host_name, play, task, failure_message(result), unreachable=True)
            )
        else:
            counts.skipped += 1
            counts.last_status = "skipped"

        if self.keep_results:
            self.results.append(TaskResult(host_name, play, task, status, result))

    def _handle_stats(self, data: dict[str, Any]) -> None:
        """Replace the live counts by ansible-playbook's own recap."""
        self.stats_seen = True
        keys = {
            "ok": "ok",
            "changed": "changed",
            "failures": "failed",
            "dark": "unreachable",
            "skipped": "skipped",
            "rescued": "rescued",
            "ignored": "ignored",
        }
        names: set[str] = set()
        for source in keys:
            names.update((data.get(source) or {}).keys())
        for name in names:
            counts = self.host(name)
            for source, target in keys.items():
                setattr(counts, target, int((data.get(source) or {}).get(name, 0)))
        # A failure that a rescue block handled leaves the host with no failures.
        self.failures = [
            failure
            for failure in self.failures
            if failure.unreachable or self.hosts[failure.host].failed > 0
        ]

    @property
    def any_failed(self) -> bool:
        """Whether a task failed on some host (ignored and rescued failures excluded)."""
        return any(counts.failed for counts in self.hosts.values())

    @property
    def any_unreachable(self) -> bool:
        """Whether some host could not be reached."""
        return any(counts.unreachable for counts in self.hosts.values())
