"""Offline tests of the monitoring_stack role: rendered files checked by the real tools.

promtool runs in the lab's Prometheus image (Prometheus 2.42); Compose files
are checked by "docker compose config". Neither starts a service.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

HERE = Path(__file__).parent
ROLE = HERE.parents[2] / "roles" / "monitoring_stack"
Render = Callable[..., Path]
Promtool = Callable[..., subprocess.CompletedProcess[str]]
ComposeConfig = Callable[[Path], subprocess.CompletedProcess[str]]
Playbook = Callable[[str, dict[str, object]], subprocess.CompletedProcess[str]]

COMPONENTS = ["fastapi", "flower", "postgres", "redis", "host"]
SERVERS = ["server-1", "server-2"]
LAB_VALUES: dict[str, object] = {
    "monitoring_stack_project_name": "whispermon-lab",
    "monitoring_stack_prometheus_image": "whispermon-lab/prometheus:debian",
    "monitoring_stack_grafana_enabled": False,
}
VARIANTS: dict[str, dict[str, object]] = {
    "example": {},
    "lab": LAB_VALUES,
    "ipv6-loopback": {"monitoring_stack_publish_address": "::1",
                      "monitoring_stack_prometheus_retention_size": ""},
}
DASHBOARDS = sorted((ROLE / "files" / "dashboards").glob("*.json"))


def load_filters() -> ModuleType:
    path = ROLE / "filter_plugins" / "monitoring_stack.py"
    spec = importlib.util.spec_from_file_location("monitoring_stack_filters", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FILTERS = load_filters()


def compose_services(render: Render, variant: str) -> dict[str, Any]:
    text = (render(**VARIANTS[variant]) / "compose.yaml").read_text()
    return dict(yaml.safe_load(text)["services"])


# Rendered files and the real tools


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_prometheus_config_passes_promtool(render: Render, promtool: Promtool,
                                           variant: str) -> None:
    folder = render(**VARIANTS[variant]) / "prometheus"
    result = promtool(folder, "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_rules_pass_promtool_check(render: Render, promtool: Promtool) -> None:
    result = promtool(render() / "prometheus" / "rules", "check", "rules", "whispermon.rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout


def test_rule_unit_tests_pass(render: Render, promtool: Promtool, tmp_path: Path) -> None:
    shutil.copy(render() / "prometheus" / "rules" / "whispermon.rules.yml", tmp_path)
    shutil.copy(HERE / "rules" / "whispermon_rules_test.yml", tmp_path)
    tmp_path.chmod(0o755)
    for path in tmp_path.iterdir():
        path.chmod(0o644)
    result = promtool(tmp_path, "test", "rules", "whispermon_rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_cover_every_alert(render: Render) -> None:
    rules = yaml.safe_load((render() / "prometheus" / "rules" / "whispermon.rules.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((HERE / "rules" / "whispermon_rules_test.yml").read_text())
    cases = [case for test in tests["tests"] for case in test["alert_rule_test"]]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert alerts - firing == set(), "alerts without a firing case"
    assert alerts - quiet == set(), "alerts without a case where they stay quiet"


def test_promtool_rejects_broken_rules(promtool: Promtool, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum(\n")
    broken.chmod(0o644)
    result = promtool(tmp_path, "check", "rules", "broken.yml")
    assert result.returncode != 0


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_compose_file_passes_compose_config(render: Render, compose_config: ComposeConfig,
                                            variant: str) -> None:
    result = compose_config(render(**VARIANTS[variant]))
    assert result.returncode == 0, result.stderr
    project = json.loads(result.stdout)
    expected_name = VARIANTS[variant].get("monitoring_stack_project_name", "whispermon")
    assert project["name"] == expected_name


# compose.yaml


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_compose_publishes_on_loopback_only(render: Render, variant: str) -> None:
    for name, service in compose_services(render, variant).items():
        for port in service["ports"]:
            host = str(port).rsplit(":", 2)[0]
            assert host in ("127.0.0.1", "[::1]"), f"{name} publishes {port}"


def test_compose_services_settings(render: Render) -> None:
    services = compose_services(render, "example")
    assert sorted(services) == ["grafana", "prometheus"]
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["pull_policy"] == "missing", name
        assert "host.docker.internal:host-gateway" in service["extra_hosts"], name
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert ":" in service["image"], name
        assert not service["image"].endswith(":latest"), name
    assert services["prometheus"]["healthcheck"]["test"][1] == "promtool"
    assert "--web.enable-lifecycle" in services["prometheus"]["command"]


def test_compose_mounts_folders_and_named_volumes(render: Render) -> None:
    folder = render()
    services = compose_services(render, "example")
    for name, service in services.items():
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (folder / source).is_dir(), f"{name} mounts {source}, not a folder"
            else:
                assert source in ("prometheus-data", "grafana-data"), f"{name} mounts {source}"
    project = yaml.safe_load((folder / "compose.yaml").read_text())
    assert sorted(project["volumes"]) == ["grafana-data", "prometheus-data"]


def test_compose_passes_admin_password_as_file_secret(render: Render) -> None:
    project = yaml.safe_load((render() / "compose.yaml").read_text())
    grafana = project["services"]["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == \
        "/run/secrets/grafana_admin_password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana["environment"]
    assert grafana["secrets"] == ["grafana_admin_password"]
    assert project["secrets"]["grafana_admin_password"]["file"] == \
        "./secrets/grafana_admin_password"


def test_compose_without_grafana_keeps_prometheus_only(render: Render) -> None:
    project = yaml.safe_load((render(**LAB_VALUES) / "compose.yaml").read_text())
    assert sorted(project["services"]) == ["prometheus"]
    assert "secrets" not in project
    assert project["services"]["prometheus"]["image"] == "whispermon-lab/prometheus:debian"


# prometheus.yml


def test_scrape_jobs_targets_and_labels(render: Render) -> None:
    config = yaml.safe_load((render() / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert sorted(jobs) == sorted([*COMPONENTS, "prometheus"])
    for component_index, component in enumerate(COMPONENTS):
        groups = jobs[component]["static_configs"]
        assert [group["labels"]["server"] for group in groups] == SERVERS
        for server_index, group in enumerate(groups):
            server = SERVERS[server_index]
            assert group["labels"]["component"] == component
            assert group["labels"]["instance"] == f"{server}/{component}"
            # server-1 keeps the components' own ports; server-2 gets 19000 on.
            expected_port = ([8000, 5555, 9187, 9121, 9182][component_index] if server_index == 0
                             else 19000 + component_index)
            assert group["targets"] == [f"host.docker.internal:{expected_port}"]


def test_scrape_interval_and_retention_inputs(render: Render) -> None:
    folder = render(monitoring_stack_scrape_interval="30s",
                    monitoring_stack_evaluation_interval="1m",
                    monitoring_stack_prometheus_retention_time="1y",
                    monitoring_stack_prometheus_retention_size="5GB")
    config = yaml.safe_load((folder / "prometheus" / "prometheus.yml").read_text())
    assert config["global"] == {"scrape_interval": "30s", "evaluation_interval": "1m"}
    project = yaml.safe_load((folder / "compose.yaml").read_text())
    command = project["services"]["prometheus"]["command"]
    assert "--storage.tsdb.retention.time=1y" in command
    assert "--storage.tsdb.retention.size=5GB" in command


# Managed markers and Grafana provisioning


def test_every_template_has_managed_marker(render: Render) -> None:
    folder = render()
    root = ROLE / "templates"
    templates = sorted(path.relative_to(root) for path in root.rglob("*.j2"))
    assert templates, "no templates found"
    for template in templates:
        rendered = folder / str(template).removesuffix(".j2")
        head = rendered.read_text().splitlines()[:3]
        assert any("Ansible managed" in line for line in head), rendered


def test_dashboard_provider_lists_managed_dashboards(render: Render) -> None:
    text = (render() / "grafana" / "provisioning" / "dashboards" / "whispermon.yaml").read_text()
    for dashboard in DASHBOARDS:
        assert f"#   - {dashboard.name}" in text
    provider = yaml.safe_load(text)["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/dashboards"


def test_datasource_has_fixed_uid_and_replaces_old_one(render: Render) -> None:
    text = (render(monitoring_stack_grafana_delete_datasource_names=["Prometheus-old"])
            / "grafana" / "provisioning" / "datasources" / "whispermon.yaml").read_text()
    provisioning = yaml.safe_load(text)
    deleted = [entry["name"] for entry in provisioning["deleteDatasources"]]
    assert deleted == ["Prometheus", "Prometheus-old"]
    (datasource,) = provisioning["datasources"]
    assert datasource["uid"] == "prometheus"
    assert datasource["isDefault"] is True
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"


def test_grafana_ini_disables_anonymous_signup_and_reporting(render: Render) -> None:
    text = (render() / "grafana" / "config" / "grafana.ini").read_text()
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line and not line.startswith((";", "#")):
            key, value = (part.strip() for part in line.split("=", 1))
            sections.setdefault(current, {})[key] = value
    assert sections["auth.anonymous"]["enabled"] == "false"
    assert sections["users"]["allow_sign_up"] == "false"
    assert sections["analytics"]["reporting_enabled"] == "false"


# Dashboards


@pytest.fixture(params=DASHBOARDS, ids=[path.name for path in DASHBOARDS])
def dashboard(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    path: Path = request.param
    return path.read_text(), json.loads(path.read_text())


def test_dashboard_passes_provisioning_checks(dashboard: tuple[str, dict[str, Any]]) -> None:
    text, _ = dashboard
    assert FILTERS.dashboard_problems(text, "dashboard") == []
    assert "__inputs" not in text
    assert "${DS_" not in text


def test_dashboard_identity_and_server_variable(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, data = dashboard
    assert data["uid"] == "whispermon-overview"
    assert data["title"] == "Whisper pipeline overview"
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["server"]["definition"] == "label_values(up, server)"
    assert variables["server"]["datasource"] == {"type": "prometheus", "uid": "prometheus"}


def test_dashboard_panel_ids_are_unique(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, data = dashboard
    ids = [panel["id"] for panel in FILTERS.dashboard_panels(data)]
    assert len(ids) == len(set(ids))


def test_dashboard_grid_positions_are_valid(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, data = dashboard
    occupied: dict[tuple[int, int], int] = {}
    for panel in FILTERS.dashboard_panels(data):
        grid = panel["gridPos"]
        assert grid["w"] > 0, panel["id"]
        assert grid["h"] > 0, panel["id"]
        assert grid["x"] >= 0, panel["id"]
        assert grid["y"] >= 0, panel["id"]
        assert grid["x"] + grid["w"] <= 24, panel["id"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                other = occupied.get((x, y))
                assert other is None, f"panels {other} and {panel['id']} overlap"
                occupied[(x, y)] = panel["id"]


def test_dashboard_panels_have_queries_units_and_legends(
        dashboard: tuple[str, dict[str, Any]]) -> None:
    _, data = dashboard
    panels = [p for p in FILTERS.dashboard_panels(data) if p["type"] != "row"]
    assert len(panels) >= 20
    for panel in panels:
        label = f"panel {panel['id']} {panel['title']!r}"
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, label
        assert panel["fieldConfig"]["defaults"].get("unit"), label
        assert panel["targets"], label
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "prometheus"}, label
            assert target["expr"].strip(), label
            assert target["legendFormat"].strip(), label
            assert 'server=~"$server"' in target["expr"], label


def test_dashboard_queries_parse_in_promtool(dashboard: tuple[str, dict[str, Any]],
                                             promtool: Promtool, tmp_path: Path) -> None:
    # Grafana's variables are replaced by values Prometheus accepts, and each
    # query goes through a recording rule so that promtool parses it.
    _, data = dashboard
    rules = []
    for panel in FILTERS.dashboard_panels(data):
        for target in panel.get("targets") or []:
            expr = (target["expr"].replace("$__rate_interval", "1m").replace("$server", ".+"))
            rules.append({"record": f"panel:{panel['id']}:{target['refId']}", "expr": expr})
    queries = {"groups": [{"name": "queries", "rules": rules}]}
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(queries))
    tmp_path.chmod(0o755)
    (tmp_path / "queries.yml").chmod(0o644)
    result = promtool(tmp_path, "check", "rules", "queries.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_host_panels_read_linux_and_windows_metrics(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, data = dashboard
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"])
             for p in FILTERS.dashboard_panels(data) if p["type"] != "row"}
    assert "node_cpu_seconds_total" in exprs["CPU usage"]
    assert "windows_cpu_time_total" in exprs["CPU usage"]
    assert "node_memory_MemAvailable_bytes" in exprs["Memory usage"]
    assert "windows_memory_available_bytes" in exprs["Memory usage"]
    assert "node_filesystem_avail_bytes" in exprs["Disk free"]
    assert "windows_logical_disk_free_bytes" in exprs["Disk free"]


# Filters


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", "not valid JSON"),
    (json.dumps({"__inputs": [], "panels": []}), "__inputs"),
    (json.dumps({"panels": [{"id": 1, "datasource": "${DS_PROMETHEUS}", "targets": []}]}),
     "${DS_...}"),
    (json.dumps({"panels": [{"id": 1, "datasource": {"type": "prometheus", "uid": "other"},
                             "targets": []}]}), "uses datasource"),
    (json.dumps({"panels": [{"id": 1, "targets": [{"expr": "up",
                                                   "datasource": {"uid": "P1809F7CD0C75ACF3"}}]}]}),
     "has a target with datasource"),
    (json.dumps({"elements": {}, "layout": {}}), "v2 resource format"),
])
def test_dashboard_problems_found(text: str, problem: str) -> None:
    problems = FILTERS.dashboard_problems(text, "custom.json")
    assert any(problem in p for p in problems), problems


def test_dashboard_with_datasource_variable_accepted() -> None:
    dashboard = {
        "templating": {"list": [{"name": "ds", "type": "datasource", "query": "prometheus"}]},
        "panels": [{"id": 1, "datasource": {"type": "prometheus", "uid": "${ds}"},
                    "targets": [{"expr": "up", "datasource": {"uid": "$ds"}}]}],
    }
    assert FILTERS.dashboard_problems(json.dumps(dashboard), "custom.json") == []


@pytest.mark.parametrize(("text", "seconds"), [
    ("15s", 15), ("1h30m", 5400), ("30d", 2592000), ("1y", 31536000), ("100ms", 0.1),
    ("0", -1), ("", -1), ("30days", -1), ("5m1d", -1), ("1.5h", -1),
])
def test_duration_seconds(text: str, seconds: float) -> None:
    assert FILTERS.prometheus_duration_seconds(text) == seconds


@pytest.mark.parametrize(("text", "valid"), [
    ("", True), ("10GB", True), ("512MB", True), ("10G", False), ("1.5GB", False), ("GB", False),
])
def test_size_valid(text: str, valid: bool) -> None:
    assert FILTERS.prometheus_size_valid(text) is valid


# Preflight


GOOD_DASHBOARD = json.dumps({"panels": [{"id": 1, "datasource": {"type": "prometheus",
                                                                "uid": "prometheus"},
                                         "targets": [{"expr": "up"}]}]})


@pytest.mark.parametrize(("extra_vars", "dashboard", "message"), [
    ({}, None, None),
    ({"monitoring_stack_publish_address": "0.0.0.0"}, None, "monitoring_stack_publish_address"),
    ({"monitoring_stack_publish_address": "0.0.0.0", "monitoring_stack_allow_non_loopback": True},
     None, None),
    ({"monitoring_stack_prometheus_image": "prom/prometheus"}, None,
     "monitoring_stack_prometheus_image"),
    ({"monitoring_stack_prometheus_image": "registry.local:5000/prom/prometheus"}, None,
     "has no tag"),
    ({"monitoring_stack_grafana_image": "grafana/grafana:latest"}, None,
     "monitoring_stack_grafana_image"),
    ({"monitoring_stack_prometheus_retention_time": "30days"}, None,
     "monitoring_stack_prometheus_retention_time"),
    ({"monitoring_stack_prometheus_retention_time": "0d"}, None,
     "monitoring_stack_prometheus_retention_time"),
    ({"monitoring_stack_prometheus_retention_size": "10G"}, None,
     "monitoring_stack_prometheus_retention_size"),
    ({"monitoring_stack_prometheus_port": 8000}, None, "monitoring_stack_prometheus_port"),
    ({}, GOOD_DASHBOARD, None),
    ({}, "{broken", "not valid JSON"),
    ({}, json.dumps({"__inputs": [{"name": "DS_PROMETHEUS"}], "panels": []}), "__inputs"),
], ids=["defaults", "non-loopback", "non-loopback-allowed", "untagged-image", "registry-port",
        "latest-tag", "retention-unit", "retention-zero", "retention-size", "tunnel-port",
        "custom-dashboard", "invalid-json-dashboard", "shared-export-dashboard"])
def test_preflight(playbook: Playbook, tmp_path: Path, extra_vars: dict[str, object],
                   dashboard: str | None, message: str | None) -> None:
    dashboards = tmp_path / "grafana" / "dashboards"
    dashboards.mkdir(parents=True)
    if dashboard is not None:
        (dashboards / "custom.json").write_text(dashboard)
    result = playbook("preflight.yml", {"monitoring_stack_dir": str(tmp_path), **extra_vars})
    output = result.stdout + result.stderr
    if message is None:
        assert result.returncode == 0, output
    else:
        assert result.returncode != 0, output
        assert message in output
        if dashboard is not None:
            assert "custom.json" in output
