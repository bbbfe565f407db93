"""Doctor checks built from the probe results of playbooks/doctor.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml
from cli_streams import result, skipped, unreachable

from whispermon import doctor
from whispermon.errors import ExitCode
from whispermon.events import RunTracker

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / doctor.PLAYBOOK


def _checks(events: list[dict[str, Any]]) -> list[doctor.Check]:
    tracker = RunTracker(keep_results=True)
    for event in events:
        tracker.handle(event)
    return doctor.collect_checks(tracker)


def _ok(host: str, task: str, res: dict[str, Any]) -> dict[str, Any]:
    return result("runner_on_ok", host, task, {"changed": False, **res})


def _units(*states: tuple[str, str]) -> dict[str, Any]:
    return _ok(
        "workstation",
        doctor.TASK_TUNNEL_UNITS,
        {
            "results": [
                {
                    "item": server,
                    "name": f"whispermon-tunnel-{server}.service",
                    "status": {
                        "LoadState": "loaded",
                        "ActiveState": state,
                        "SubState": "running" if state == "active" else "dead",
                    },
                }
                for server, state in states
            ]
        },
    )


def _forwards(*answers: tuple[str, str, int]) -> dict[str, Any]:
    items = []
    for server, component, status in answers:
        item: dict[str, Any] = {
            "item": {
                "server": server,
                "component": component,
                "local": 8000,
                "remote": 8000,
                "path": "/metrics",
            },
            "status": status,
            "url": f"http://127.0.0.1:8000/metrics#{server}-{component}",
        }
        if status < 0:
            item["msg"] = "Status code was -1 and not [200]: Connection refused"
        items.append(item)
    return _ok("workstation", doctor.TASK_FORWARDS, {"results": items})


def _targets(*targets: dict[str, Any]) -> dict[str, Any]:
    return _ok(
        "controller",
        doctor.TASK_TARGETS,
        {"status": 200, "json": {"data": {"activeTargets": list(targets)}}},
    )


def _target(job: str, server: str, health: str, error: str = "") -> dict[str, Any]:
    return {
        "labels": {"job": job, "server": server},
        "health": health,
        "lastError": error,
        "scrapeUrl": f"http://host.docker.internal:8000/metrics#{server}",
    }


def _flower(*servers: str) -> dict[str, Any]:
    series = [{"metric": {"server": server}, "value": [0, "3"]} for server in servers]
    return _ok(
        "controller",
        doctor.TASK_FLOWER_EVENTS,
        {"status": 200, "json": {"data": {"result": series}}},
    )


HEALTHY = [
    _units(("server-1", "active"), ("server-2", "active")),
    _forwards(("server-1", "fastapi", 200), ("server-2", "fastapi", 200)),
    _ok("controller", doctor.TASK_PROMETHEUS_READY, {"status": 200, "url": "http://x/-/ready"}),
    _targets(_target("fastapi", "server-1", "up"), _target("fastapi", "server-2", "up")),
    _flower("server-1", "server-2"),
    skipped("controller", doctor.TASK_GRAFANA_HEALTH),
    skipped("controller", doctor.TASK_GRAFANA_DATASOURCE),
]


def test_healthy_lab_passes_with_grafana_skipped() -> None:
    checks = _checks(HEALTHY)
    assert doctor.exit_code(checks, run_failed=False) == ExitCode.OK
    statuses = {(c.check, c.status) for c in checks}
    assert ("grafana_health", doctor.SKIPPED) in statuses
    assert all(c.status != doctor.FAILED for c in checks)
    assert len([c for c in checks if c.check == "tunnel"]) == 2


def test_stopped_tunnel_fails_with_restart_fix() -> None:
    events = [
        _units(("server-1", "active"), ("server-2", "inactive")),
        _forwards(("server-2", "fastapi", -1)),
    ]
    checks = _checks(events)
    tunnel = next(c for c in checks if c.check == "tunnel" and c.status == doctor.FAILED)
    assert tunnel.name == "tunnel to server-2"
    assert tunnel.detail == "whispermon-tunnel-server-2.service is inactive (dead)"
    assert "systemctl restart whispermon-tunnel-server-2.service" in tunnel.fix
    forward = next(c for c in checks if c.check == "forward")
    assert forward.status == doctor.FAILED
    assert "Connection refused" in forward.detail
    assert "start the tunnel to server-2" in forward.fix
    assert doctor.exit_code(checks, run_failed=False) == ExitCode.FAILED


def test_missing_unit_and_no_systemd() -> None:
    events = [
        _ok(
            "workstation",
            doctor.TASK_TUNNEL_UNITS,
            {
                "results": [
                    {
                        "item": "server-1",
                        "status": {"LoadState": "not-found", "ActiveState": "inactive"},
                    },
                    {"item": "server-2", "msg": "System has not been booted with systemd"},
                ]
            },
        )
    ]
    first, second = _checks(events)
    assert first.detail == "whispermon-tunnel-server-1.service is not installed"
    assert second.detail.endswith("System has not been booted with systemd")
    assert {first.status, second.status} == {doctor.FAILED}


def test_macos_agent_state_read_from_launchctl() -> None:
    events = [
        _ok(
            "mac",
            doctor.TASK_TUNNEL_AGENTS,
            {
                "results": [
                    {
                        "item": "server-1",
                        "rc": 0,
                        "stdout": "gui/501/io.whispermon.tunnel.server-1 = {\n\tstate = running\n}",
                        "cmd": ["launchctl", "print", "gui/501/io.whispermon.tunnel.server-1"],
                    },
                    {
                        "item": "server-2",
                        "rc": 113,
                        "stdout": "",
                        "stderr": "Could not find service in domain",
                        "cmd": ["launchctl", "print", "gui/501/io.whispermon.tunnel.server-2"],
                    },
                ]
            },
        )
    ]
    first, second = _checks(events)
    assert first.status == doctor.PASSED
    assert second.status == doctor.FAILED
    assert "Could not find service" in second.detail
    assert "launchctl kickstart -k gui/501/io.whispermon.tunnel.server-2" in second.fix


def test_down_target_reports_last_error() -> None:
    checks = _checks(
        [
            _targets(
                _target("redis", "server-2", "down", "connection refused"),
                _target("fastapi", "server-1", "up"),
            )
        ]
    )
    assert [c.name for c in checks] == ["target fastapi of server-1", "target redis of server-2"]
    down = next(c for c in checks if c.status == doctor.FAILED)
    assert down.name == "target redis of server-2"
    assert down.detail.endswith(": connection refused")
    assert "server-2" in down.fix


def test_missing_flower_events_name_the_worker_flag() -> None:
    checks = _checks(
        [_forwards(("server-1", "flower", 200), ("server-2", "flower", 200)), _flower("server-1")]
    )
    flower = [c for c in checks if c.check == "flower_events"]
    assert [(c.name, c.status) for c in flower] == [
        ("Flower task events of server-1", doctor.PASSED),
        ("Flower task events of server-2", doctor.FAILED),
    ]
    assert "-E" in flower[1].fix
    assert "worker_send_task_events" in flower[1].fix


def test_prometheus_down_fails_its_queries() -> None:
    refused = {"status": -1, "msg": "Connection refused", "url": "http://127.0.0.1:9090/-/ready"}
    checks = _checks(
        [
            _ok("controller", doctor.TASK_PROMETHEUS_READY, refused),
            _ok("controller", doctor.TASK_TARGETS, refused),
            _ok("controller", doctor.TASK_FLOWER_EVENTS, refused),
        ]
    )
    assert [c.status for c in checks] == [doctor.FAILED] * 3
    assert "did not answer" in checks[0].detail


def test_grafana_checks_read_health_and_datasource() -> None:
    checks = _checks(
        [
            _ok(
                "controller",
                doctor.TASK_GRAFANA_HEALTH,
                {"status": 200, "json": {"database": "ok"}},
            ),
            _ok(
                "controller",
                doctor.TASK_GRAFANA_DATASOURCE,
                {
                    "msg": {
                        "password_read": True,
                        "password_error": "",
                        "status": "400",
                        "message": 'Post "http://prometheus:9090": dial tcp: lookup prometheus',
                    }
                },
            ),
        ]
    )
    health, datasource = checks
    assert health.status == doctor.PASSED
    assert datasource.status == doctor.FAILED
    assert "HTTP 400" in datasource.detail
    assert "lookup prometheus" in datasource.detail


def test_unreadable_grafana_password_names_the_variable() -> None:
    (check,) = _checks(
        [
            _ok(
                "controller",
                doctor.TASK_GRAFANA_DATASOURCE,
                {
                    "msg": {
                        "password_read": False,
                        "password_error": "file not found",
                        "status": "-1",
                        "message": "",
                    }
                },
            )
        ]
    )
    assert check.status == doctor.FAILED
    assert "whispermon_doctor_grafana_password_file" in check.fix


def test_unreachable_host_exits_3() -> None:
    checks = _checks([unreachable("workstation", "Gathering Facts", "container not running")])
    (check,) = checks
    assert check.check == "reach"
    assert doctor.exit_code(checks, run_failed=False) == ExitCode.UNREACHABLE


def test_no_checks_is_a_failure() -> None:
    assert doctor.exit_code([], run_failed=False) == ExitCode.FAILED


def test_json_matches_schema() -> None:
    checks = _checks([*HEALTHY, _units(("server-3", "failed"))])
    code = doctor.exit_code(checks, run_failed=False)
    data = doctor.to_json(checks, code)
    jsonschema.validate(data, doctor.DOCTOR_JSON_SCHEMA)
    assert data["result"] == "fail"
    assert data["exit_code"] == 1


def _playbook_tasks() -> list[dict[str, Any]]:
    plays = yaml.safe_load(PLAYBOOK.read_text())
    return [task for play in plays for task in play.get("tasks", [])]


def test_playbook_has_every_probe_task() -> None:
    names = [task["name"] for task in _playbook_tasks()]
    for probe in doctor.PROBE_TASKS:
        assert probe in names, f"{probe!r} is missing from {PLAYBOOK}"


def test_playbook_probes_are_read_only() -> None:
    for task in _playbook_tasks():
        if "ansible.builtin.import_role" in task or "ansible.builtin.debug" in task:
            continue
        assert task.get("check_mode") is False, task["name"]
        if "ansible.builtin.slurp" not in task:
            assert task.get("changed_when") is False, task["name"]
        assert task.get("failed_when") is False, task["name"]
