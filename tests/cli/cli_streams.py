"""Build ansible-runner events shaped like the ones ansible-runner 2.4 emits.

The field names and nesting follow events recorded from a real run
(``event``, ``event_data.task``, ``event_data.host``, ``event_data.res`` ...).
"""

from __future__ import annotations

from typing import Any

PLAY = "Converge the servers"


def play_start(name: str = PLAY) -> dict[str, Any]:
    return {"event": "playbook_on_play_start", "event_data": {"play": name, "name": name}}


def task_start(task: str, *, handler: bool = False, play: str = PLAY) -> dict[str, Any]:
    kind = "playbook_on_handler_task_start" if handler else "playbook_on_task_start"
    return {"event": kind, "event_data": {"play": play, "task": task, "name": task}}


def result(
    kind: str,
    host: str,
    task: str,
    res: dict[str, Any] | None = None,
    *,
    role: str = "",
    action: str = "ansible.builtin.copy",
    ignore_errors: bool = False,
    play: str = PLAY,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "play": play,
        "task": task,
        "host": host,
        "res": res if res is not None else {"changed": False},
        "task_action": action,
        "resolved_action": action,
    }
    if role:
        data["role"] = role
    if kind == "runner_on_failed":
        data["ignore_errors"] = ignore_errors
    return {"event": kind, "event_data": data}


def ok(
    host: str, task: str, *, changed: bool = False, diff: Any = None, **kwargs: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {"changed": changed}
    if diff is not None:
        res["diff"] = diff
    return result("runner_on_ok", host, task, res, **kwargs)


def failed(host: str, task: str, msg: str, **kwargs: Any) -> dict[str, Any]:
    return result("runner_on_failed", host, task, {"changed": False, "msg": msg}, **kwargs)


def unreachable(host: str, task: str, msg: str) -> dict[str, Any]:
    return result(
        "runner_on_unreachable", host, task, {"changed": False, "unreachable": True, "msg": msg}
    )


def skipped(host: str, task: str) -> dict[str, Any]:
    return result("runner_on_skipped", host, task, {"changed": False, "skipped": True})


def stats(**counts: dict[str, int]) -> dict[str, Any]:
    data: dict[str, dict[str, int]] = {
        key: {}
        for key in (
            "ok",
            "changed",
            "failures",
            "dark",
            "skipped",
            "rescued",
            "ignored",
            "processed",
        )
    }
    data.update(counts)
    return {"event": "playbook_on_stats", "event_data": data}


def verbose(text: str) -> dict[str, Any]:
    return {"event": "verbose", "stdout": text, "event_data": {}}
