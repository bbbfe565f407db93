"""Tampering on every host shows as drift, one deploy repairs it, and no data is lost."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conftest import docker_exec, lab_state_dir, query, wait_until, whispermon


def _changed_tasks(report: dict[str, Any]) -> dict[str, list[str]]:
    """Map host to "role : task [loop items]" of each change, from `drift --json`."""
    result: dict[str, list[str]] = {}
    for host in report["hosts"]:
        result[host["name"]] = [
            f"{change['role']} : {change['task']} {' '.join(map(str, change['items']))}"
            for change in host["changes"]
        ]
    return result


def test_tampering_detected_and_repaired() -> None:
    sample_time = time.time() - 30
    samples_before = query("count(up)", at=sample_time)
    assert samples_before, "no samples to compare with"

    docker_exec("server-1", "sh", "-c", "echo 'X11Forwarding yes' >> /etc/ssh/sshd_config",
                check=True)
    docker_exec("server-2", "systemctl", "stop", "prometheus-node-exporter.service", check=True)
    docker_exec("workstation", "rm", "/etc/systemd/system/whispermon-tunnel-server-1.service",
                check=True)
    stack = lab_state_dir() / "monitoring"
    prometheus_yml = next(stack.rglob("prometheus.yml"))
    prometheus_yml.write_text(prometheus_yml.read_text() + "\n# tampered\n")
    dashboards = sorted(stack.rglob("dashboards/*.json"))
    assert dashboards, "no provisioned dashboard to delete"
    managed = [d for d in dashboards if "whisper" in d.name]
    (managed or dashboards)[0].unlink()

    drift = whispermon("drift", "-i", "inventory/lab", "--json")
    assert drift.returncode == 2, f"drift exit {drift.returncode}:\n{drift.stdout}\n{drift.stderr}"
    changed = _changed_tasks(json.loads(drift.stdout))
    expectations = {
        "server-1": "sshd",
        "server-2": "exporter",
        "workstation": "unit",
        "controller": "prometheus",
    }
    for host, word in expectations.items():
        names = " | ".join(changed.get(host, [])).lower()
        assert word in names, f"drift on {host} does not name the {word} change: {names!r}"
    assert "dashboard" in " | ".join(changed.get("controller", [])).lower()
    hosts = {host["name"]: host for host in json.loads(drift.stdout)["hosts"]}
    sshd = [c for c in hosts["server-1"]["changes"] if c["task"] == "Render sshd_config"]
    assert sshd, hosts["server-1"]["changes"]
    assert "X11Forwarding yes" in sshd[0]["diff"]
    started = [c for c in hosts["server-2"]["changes"]
               if c["task"] == "Enable and start the exporters"]
    assert started and "host" in started[0]["items"], hosts["server-2"]["changes"]

    deploy = whispermon("deploy", "-i", "inventory/lab")
    assert deploy.returncode == 0, f"deploy failed:\n{deploy.stdout[-4000:]}\n{deploy.stderr}"
    clean = whispermon("drift", "-i", "inventory/lab", "--json")
    assert clean.returncode == 0, f"drift after deploy:\n{clean.stdout[-4000:]}"

    samples_after = query("count(up)", at=sample_time)
    assert samples_after, "samples from before the tampering are gone"
    assert samples_after[0]["value"][1] == samples_before[0]["value"][1]
    assert not Path(prometheus_yml).read_text().endswith("# tampered\n")
    assert wait_until(lambda: query('up{component="host",server="server-2"} == 1'), 60)
