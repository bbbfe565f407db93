"""Drift collection from check-mode events, short diffs, exit codes and the JSON schema."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from cli_streams import failed, ok, stats, task_start, unreachable

from whispermon.drift import DRIFT_JSON_SCHEMA, collect_drift, short_diff
from whispermon.errors import ExitCode
from whispermon.events import RunTracker

SSHD_DIFF = [
    {
        "before": "Port 22\nPermitRootLogin no\n",
        "after": "Port 22\nPermitRootLogin no\nAllowTcpForwarding local\n",
        "before_header": "/etc/ssh/sshd_config",
        "after_header": "/etc/ssh/sshd_config",
    }
]


def _report(events: list[dict[str, Any]], run_failed: bool = False) -> Any:
    tracker = RunTracker()
    for event in events:
        tracker.handle(event)
    return collect_drift(tracker, run_failed=run_failed, duration=1.5, run_dir="/tmp/run")


def test_probe_without_change_is_not_drift() -> None:
    report = _report(
        [
            task_start("Read sshd -T output"),
            ok("server-1", "Read sshd -T output", action="ansible.builtin.command"),
            stats(ok={"server-1": 1}),
        ]
    )
    assert report.exit_code == ExitCode.OK
    assert report.result == "clean"
    assert [host.status for host in report.hosts] == ["clean"]


def test_changed_task_is_drift_on_its_host() -> None:
    report = _report(
        [
            task_start("Render sshd_config"),
            ok(
                "server-1",
                "Render sshd_config",
                changed=True,
                diff=SSHD_DIFF,
                role="openssh_server",
                action="ansible.builtin.template",
            ),
            ok("server-2", "Render sshd_config", role="openssh_server"),
            stats(ok={"server-1": 1, "server-2": 1}, changed={"server-1": 1}),
        ]
    )
    assert report.exit_code == ExitCode.DRIFT
    data = report.to_json()
    by_name = {host["name"]: host for host in data["hosts"]}
    assert by_name["server-2"]["status"] == "clean"
    (change,) = by_name["server-1"]["changes"]
    assert change["task"] == "Render sshd_config"
    assert change["role"] == "openssh_server"
    assert "+AllowTcpForwarding local" in change["diff"]
    assert data["summary"] == {
        "hosts": 2,
        "hosts_with_drift": 1,
        "changes": 1,
        "failed_hosts": 0,
        "unreachable_hosts": 0,
    }


@pytest.mark.parametrize(
    ("events", "run_failed", "expected"),
    [
        ([ok("a", "t", changed=True), failed("b", "t", "boom")], False, ExitCode.FAILED),
        (
            [ok("a", "t", changed=True), unreachable("b", "t", "no route")],
            False,
            ExitCode.UNREACHABLE,
        ),
        (
            [failed("a", "t", "boom"), unreachable("b", "t", "no route")],
            False,
            ExitCode.UNREACHABLE,
        ),
        ([ok("a", "t", changed=True)], False, ExitCode.DRIFT),
        ([ok("a", "t")], True, ExitCode.FAILED),
        ([ok("a", "t")], False, ExitCode.OK),
    ],
)
def test_drift_exit_code_precedence(
    events: list[dict[str, Any]], run_failed: bool, expected: ExitCode
) -> None:
    assert _report(events, run_failed).exit_code == expected


def test_json_matches_schema_for_every_status() -> None:
    report = _report(
        [
            ok("a", "Render", changed=True, diff=SSHD_DIFF),
            ok("b", "Render"),
            failed("c", "Start", "boom"),
            unreachable("d", "Gathering Facts", "timed out"),
        ]
    )
    data = report.to_json()
    jsonschema.validate(data, DRIFT_JSON_SCHEMA)
    assert [host["status"] for host in data["hosts"]] == ["drift", "clean", "failed", "unreachable"]
    assert data["exit_code"] == 3
    assert data["result"] == "unreachable"


def test_schema_rejects_unknown_fields() -> None:
    data = _report([ok("a", "Render", changed=True)]).to_json()
    broken = copy.deepcopy(data)
    broken["hosts"][0]["changes"][0]["extra"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, DRIFT_JSON_SCHEMA)
    missing = copy.deepcopy(data)
    del missing["summary"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, DRIFT_JSON_SCHEMA)


def test_short_diff_renders_unified_text() -> None:
    text = short_diff(tuple(SSHD_DIFF))
    assert text.splitlines()[0] == "--- /etc/ssh/sshd_config"
    assert "+AllowTcpForwarding local" in text.splitlines()


def test_short_diff_renders_attribute_changes() -> None:
    text = short_diff(
        ({"before": {"path": "/x", "mode": "0644"}, "after": {"path": "/x", "mode": "0600"}},)
    )
    assert text == "mode: '0644' -> '0600'"


def test_short_diff_keeps_prepared_text() -> None:
    assert short_diff(({"prepared": "unit restarted"},)) == "unit restarted"


def test_short_diff_truncates_long_diffs() -> None:
    before = "".join(f"line {n}\n" for n in range(100))
    text = short_diff(({"before": before, "after": ""},), limit=5)
    lines = text.splitlines()
    assert len(lines) == 6
    assert lines[-1].startswith("... ")
    assert lines[-1].endswith("more lines")
