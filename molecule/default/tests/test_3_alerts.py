"""Alert rules load, stay quiet in the steady lab, and a stopped tunnel fires and resolves."""

from __future__ import annotations

from typing import Any

from conftest import all_targets_up, docker_exec, prometheus_get, wait_until


def _rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = prometheus_get("/api/v1/rules")["groups"]
    return groups


def _alerting_rules() -> list[dict[str, Any]]:
    return [rule for group in _rule_groups() for rule in group["rules"]
            if rule["type"] == "alerting"]


def _firing(name: str, server: str | None = None) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = prometheus_get("/api/v1/alerts")["alerts"]
    return [a for a in alerts if a["labels"].get("alertname") == name and a["state"] == "firing"
            and (server is None or a["labels"].get("server") == server)]


def _tunnel_rule() -> dict[str, Any]:
    candidates = [r for r in _alerting_rules() if "tunnel" in r["name"].lower()]
    assert candidates, "no tunnel-down alert rule loaded"
    return candidates[0]


def _evaluation_interval() -> float:
    intervals = [group.get("interval", 15) for group in _rule_groups()]
    return float(max(intervals))


def test_rules_loaded() -> None:
    names = {rule["name"] for rule in _alerting_rules()}
    assert len(names) >= 10, f"only {sorted(names)} loaded"
    unhealthy = [r["name"] for r in _alerting_rules() if r.get("health") not in ("ok", None)]
    assert not unhealthy, f"rules with errors: {unhealthy}"


def test_none_firing_in_steady_lab() -> None:
    alerts = prometheus_get("/api/v1/alerts")["alerts"]
    firing = [a["labels"] for a in alerts if a["state"] == "firing"]
    assert not firing, f"alerts firing in the steady lab: {firing}"


def test_stopped_tunnel_fires_then_resolves() -> None:
    rule = _tunnel_rule()
    budget = float(rule.get("duration", 0)) + 2 * _evaluation_interval() + 60
    unit = "whispermon-tunnel-server-2.service"
    docker_exec("workstation", "systemctl", "stop", unit, check=True)
    try:
        fired = wait_until(lambda: _firing(rule["name"], "server-2"), budget, 5)
        assert fired, f"{rule['name']} for server-2 did not fire within {budget:.0f} s"
        assert not _firing(rule["name"], "server-1"), "server-1 alerted although its tunnel runs"
    finally:
        docker_exec("workstation", "systemctl", "start", unit, check=True)
    assert wait_until(all_targets_up, 90), "targets not back after the tunnel restarted"
    resolved = wait_until(lambda: not _firing(rule["name"], "server-2"), budget, 5)
    assert resolved, f"{rule['name']} still firing after the tunnel came back"
