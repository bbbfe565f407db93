"""Turn the results of playbooks/doctor.yml into checks, each with a status and a fix.

The playbook only probes (systemd, launchctl, HTTP requests) and never fails
a probe. This module decides pass or fail from the task results, which it
finds by task name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from whispermon.errors import ExitCode
from whispermon.events import RunTracker, TaskResult

PLAYBOOK = "playbooks/doctor.yml"
SCHEMA_VERSION = 1

# Task names in playbooks/doctor.yml.
TASK_TUNNEL_UNITS = "Probe the tunnel units"
TASK_TUNNEL_AGENTS = "Probe the tunnel agents"
TASK_FORWARDS = "Probe the forwarded metrics ports"
TASK_PROMETHEUS_READY = "Probe Prometheus readiness"
TASK_TARGETS = "Read the Prometheus targets"
TASK_FLOWER_EVENTS = "Query the Flower task events"
TASK_GRAFANA_HEALTH = "Probe Grafana health"
TASK_GRAFANA_DATASOURCE = "Show the Grafana datasource health"
PROBE_TASKS = (
    TASK_TUNNEL_UNITS,
    TASK_TUNNEL_AGENTS,
    TASK_FORWARDS,
    TASK_PROMETHEUS_READY,
    TASK_TARGETS,
    TASK_FLOWER_EVENTS,
    TASK_GRAFANA_HEALTH,
    TASK_GRAFANA_DATASOURCE,
)

PASSED = "pass"
FAILED = "fail"
SKIPPED = "skip"

FLOWER_EVENTS_FIX = (
    "start the Celery workers with task events: add -E to the 'celery worker' command "
    "(or set worker_send_task_events = True in the Celery config), restart the workers, "
    "then run a task"
)

DOCTOR_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "result", "exit_code", "checks"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "result": {"enum": ["pass", "fail", "unreachable"]},
        "exit_code": {"enum": [0, 1, 3]},
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["check", "name", "host", "status", "detail", "fix"],
                "properties": {
                    "check": {"type": "string"},
                    "name": {"type": "string"},
                    "host": {"type": "string"},
                    "status": {"enum": [PASSED, FAILED, SKIPPED]},
                    "detail": {"type": "string"},
                    "fix": {"type": "string"},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Check:
    """One doctor check: what was checked, on which host, the outcome and the fix."""

    check: str
    name: str
    host: str
    status: str
    detail: str
    fix: str = ""


def _items(result: TaskResult) -> list[dict[str, Any]]:
    """Return the per-item results of a looped task, or the result itself."""
    raw = result.result.get("results")
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, dict)]
    return [result.result]


def _http_detail(result: dict[str, Any], url: str = "") -> str:
    status = result.get("status")
    message = str(result.get("msg") or "").strip()
    where = url or str(result.get("url") or "")
    if isinstance(status, int) and status > 0:
        return f"{where} returned HTTP {status}" + (f" ({message})" if status != 200 else "")
    return f"{where} did not answer: {message or 'no response'}"


def _tunnel_checks(result: TaskResult, darwin: bool) -> list[Check]:
    checks = []
    for item in _items(result):
        if item.get("skipped"):
            continue
        server = str(item.get("item", "?"))
        stdout = str(item.get("stdout") or "")
        if darwin:
            label = f"io.whispermon.tunnel.{server}"
            running = item.get("rc") == 0 and "state = running" in stdout
            detail = (
                f"launchd agent {label} is running"
                if running
                else f"launchd agent {label} is not running: "
                + (str(item.get("stderr") or stdout).strip().splitlines() or ["not loaded"])[-1]
            )
            fix = (
                f"run 'launchctl kickstart -k {_launchd_domain(item)}/{label}' and read "
                f"~/Library/Logs/whispermon/; if it is not loaded, run "
                f"'whispermon deploy --limit {result.host}'"
            )
        else:
            unit = f"whispermon-tunnel-{server}.service"
            raw_properties = item.get("status")
            properties: dict[str, Any] = raw_properties if isinstance(raw_properties, dict) else {}
            state = str(properties.get("ActiveState") or "unknown")
            running = state == "active"
            if properties.get("LoadState") == "not-found":
                detail = f"{unit} is not installed"
            elif properties:
                detail = f"{unit} is {state} ({properties.get('SubState', '?')})"
            else:
                detail = f"could not read {unit}: {item.get('msg') or 'no answer from systemd'}"
            fix = (
                f"run 'systemctl restart {unit}', then "
                f"'journalctl -u {unit}' for the ssh error; if the unit is missing, run "
                f"'whispermon deploy --limit {result.host}'"
            )
        checks.append(
            Check(
                "tunnel",
                f"tunnel to {server}",
                result.host,
                PASSED if running else FAILED,
                detail,
                "" if running else fix,
            )
        )
    return checks


def _launchd_domain(item: dict[str, Any]) -> str:
    command = item.get("cmd")
    if isinstance(command, list) and len(command) >= 3:
        return str(command[2]).rsplit("/", 1)[0]
    return "gui/$(id -u)"


def _forward_checks(result: TaskResult, tunnel_down: set[tuple[str, str]]) -> list[Check]:
    checks = []
    for item in _items(result):
        if item.get("skipped"):
            continue
        raw_forward = item.get("item")
        forward: dict[str, Any] = raw_forward if isinstance(raw_forward, dict) else {}
        server = str(forward.get("server", "?"))
        component = str(forward.get("component", "?"))
        ok = item.get("status") == 200
        if (result.host, server) in tunnel_down:
            fix = f"start the tunnel to {server} first (see the tunnel check)"
        else:
            fix = (
                f"check that {component} answers on 127.0.0.1:{forward.get('remote', '?')}"
                f"{forward.get('path', '/metrics')} on {server} (metrics_exporters role), "
                f"then run 'whispermon deploy --limit {server},{result.host}'"
            )
        checks.append(
            Check(
                "forward",
                f"{component} of {server} through the tunnel",
                result.host,
                PASSED if ok else FAILED,
                _http_detail(item),
                "" if ok else fix,
            )
        )
    return checks


def _prometheus_ready_check(result: TaskResult) -> Check:
    ok = result.result.get("status") == 200
    return Check(
        "prometheus_ready",
        "Prometheus ready",
        result.host,
        PASSED if ok else FAILED,
        _http_detail(result.result),
        ""
        if ok
        else (
            "start the monitoring stack ('docker compose ps' in the stack directory shows "
            f"it), or run 'whispermon deploy --limit {result.host}'"
        ),
    )


def _query_failed(check_id: str, title: str, result: TaskResult) -> Check:
    """Build the failed check for a Prometheus API request that returned no usable response."""
    return Check(
        check_id,
        title,
        result.host,
        FAILED,
        _http_detail(result.result),
        "make Prometheus answer first (see the Prometheus ready check)",
    )


def _target_checks(result: TaskResult) -> list[Check]:
    body = result.result.get("json")
    if result.result.get("status") != 200 or not isinstance(body, dict):
        return [_query_failed("targets", "Prometheus targets", result)]
    targets = (body.get("data") or {}).get("activeTargets") or []
    if not targets:
        return [
            Check(
                "targets",
                "Prometheus targets",
                result.host,
                FAILED,
                "Prometheus has no active targets",
                f"run 'whispermon deploy --limit {result.host}' to write the scrape config",
            )
        ]
    checks = []
    for target in sorted(targets, key=_target_sort_key):
        labels = target.get("labels") or {}
        job = str(labels.get("job") or target.get("scrapePool") or "?")
        server = str(labels.get("server") or "")
        name = f"target {job}" + (f" of {server}" if server else "")
        up = target.get("health") == "up"
        detail = f"{target.get('scrapeUrl', '?')} is {target.get('health', 'unknown')}"
        if not up and target.get("lastError"):
            detail += f": {target['lastError']}"
        fix = (
            f"check the tunnel and forward checks for {server}; Prometheus scrapes "
            f"{target.get('scrapeUrl', 'the tunnel port')}"
            if server
            else "check the target's address in the Prometheus configuration"
        )
        checks.append(
            Check("target", name, result.host, PASSED if up else FAILED, detail, "" if up else fix)
        )
    return checks


def _target_sort_key(target: dict[str, Any]) -> tuple[str, str]:
    labels = target.get("labels") or {}
    return (str(labels.get("job") or ""), str(labels.get("server") or ""))


def _flower_checks(result: TaskResult, servers: list[str]) -> list[Check]:
    body = result.result.get("json")
    if result.result.get("status") != 200 or not isinstance(body, dict):
        return [_query_failed("flower_events", "Flower task events", result)]
    series = (body.get("data") or {}).get("result") or []
    with_events = {str((entry.get("metric") or {}).get("server", "")) for entry in series}
    if not servers:
        ok = bool(series)
        return [
            Check(
                "flower_events",
                "Flower task events",
                result.host,
                PASSED if ok else FAILED,
                "flower_events_total has task events"
                if ok
                else "no flower_events_total series with task events",
                "" if ok else FLOWER_EVENTS_FIX,
            )
        ]
    checks = []
    for server in servers:
        ok = server in with_events
        checks.append(
            Check(
                "flower_events",
                f"Flower task events of {server}",
                result.host,
                PASSED if ok else FAILED,
                f'flower_events_total{{server="{server}"}} has task events'
                if ok
                else f"no flower_events_total series with task events for {server}",
                "" if ok else f"on {server}: {FLOWER_EVENTS_FIX}",
            )
        )
    return checks


def _grafana_health_check(result: TaskResult) -> Check:
    body = result.result.get("json")
    database = body.get("database") if isinstance(body, dict) else None
    ok = result.result.get("status") == 200 and database == "ok"
    detail = _http_detail(result.result)
    if database is not None:
        detail += f", database {database}"
    return Check(
        "grafana_health",
        "Grafana healthy",
        result.host,
        PASSED if ok else FAILED,
        detail,
        ""
        if ok
        else (
            "look at the Grafana container's log ('docker compose logs grafana' in the stack "
            f"directory), or run 'whispermon deploy --limit {result.host}'"
        ),
    )


def _grafana_datasource_check(result: TaskResult) -> Check:
    shown = result.result.get("msg")
    shown = shown if isinstance(shown, dict) else {}
    if str(shown.get("password_read")).lower() != "true":
        return Check(
            "grafana_datasource",
            "Grafana datasource prometheus",
            result.host,
            FAILED,
            "could not read the Grafana admin password file: "
            + str(shown.get("password_error") or "no file configured"),
            "set whispermon_doctor_grafana_password_file to the admin password file that "
            "the monitoring_stack role wrote",
        )
    status = str(shown.get("status"))
    message = str(shown.get("message") or "")
    ok = status == "200"
    return Check(
        "grafana_datasource",
        "Grafana datasource prometheus",
        result.host,
        PASSED if ok else FAILED,
        f"datasource health returned HTTP {status}" + (f": {message}" if message else ""),
        ""
        if ok
        else (
            "check that Grafana reaches Prometheus inside the compose network and that the "
            f"datasource uid is 'prometheus'; run 'whispermon deploy --limit {result.host}'"
        ),
    )


def _skipped_check(result: TaskResult) -> Check | None:
    if result.task in (TASK_GRAFANA_HEALTH, TASK_GRAFANA_DATASOURCE):
        return Check(
            "grafana_health" if result.task == TASK_GRAFANA_HEALTH else "grafana_datasource",
            "Grafana healthy"
            if result.task == TASK_GRAFANA_HEALTH
            else "Grafana datasource prometheus",
            result.host,
            SKIPPED,
            "Grafana is not enabled (monitoring_stack_grafana_enabled is false)",
        )
    return None


def collect_checks(tracker: RunTracker) -> list[Check]:
    """Build the checks from the doctor playbook's results and the run's failures."""
    checks: list[Check] = []
    by_task: dict[str, list[TaskResult]] = {}
    for result in tracker.results:
        by_task.setdefault(result.task, []).append(result)

    tunnel_down: set[tuple[str, str]] = set()
    for task, darwin in ((TASK_TUNNEL_UNITS, False), (TASK_TUNNEL_AGENTS, True)):
        for result in by_task.get(task, []):
            if result.status != "ok":
                continue
            for check in _tunnel_checks(result, darwin):
                checks.append(check)
                if check.status == FAILED:
                    tunnel_down.add((check.host, check.name.removeprefix("tunnel to ")))

    servers: list[str] = []
    for result in by_task.get(TASK_FORWARDS, []):
        if result.status != "ok":
            continue
        for item in _items(result):
            forward = item.get("item")
            if isinstance(forward, dict) and str(forward.get("server")) not in servers:
                servers.append(str(forward.get("server")))
        checks.extend(_forward_checks(result, tunnel_down))

    for result in by_task.get(TASK_PROMETHEUS_READY, []):
        if result.status == "ok":
            checks.append(_prometheus_ready_check(result))
    for result in by_task.get(TASK_TARGETS, []):
        if result.status == "ok":
            checks.extend(_target_checks(result))
    for result in by_task.get(TASK_FLOWER_EVENTS, []):
        if result.status == "ok":
            checks.extend(_flower_checks(result, servers))
    for task, build in (
        (TASK_GRAFANA_HEALTH, _grafana_health_check),
        (TASK_GRAFANA_DATASOURCE, _grafana_datasource_check),
    ):
        for result in by_task.get(task, []):
            if result.status == "ok":
                checks.append(build(result))
            elif result.status == "skipped":
                skipped = _skipped_check(result)
                if skipped is not None:
                    checks.append(skipped)

    for failure in tracker.failures:
        if failure.unreachable:
            checks.append(
                Check(
                    "reach",
                    "host reachable",
                    failure.host,
                    FAILED,
                    failure.message,
                    f"check the connection settings of {failure.host} in the inventory "
                    f"('ansible -m ping {failure.host}')",
                )
            )
        else:
            checks.append(
                Check(
                    "probe",
                    f"probe '{failure.task}'",
                    failure.host,
                    FAILED,
                    failure.message,
                    "fix the error above; the probes after it did not run on this host",
                )
            )
    return checks


def exit_code(checks: list[Check], run_failed: bool) -> ExitCode:
    """Return 0 if every check passed or was skipped, 3 if a host was unreachable, else 1."""
    if any(check.check == "reach" for check in checks):
        return ExitCode.UNREACHABLE
    if run_failed or any(check.status == FAILED for check in checks) or not checks:
        return ExitCode.FAILED
    return ExitCode.OK


def to_json(checks: list[Check], code: ExitCode) -> dict[str, Any]:
    """Return the documented ``doctor --json`` structure (see DOCTOR_JSON_SCHEMA)."""
    result = {ExitCode.OK: "pass", ExitCode.UNREACHABLE: "unreachable"}.get(code, "fail")
    return {
        "schema_version": SCHEMA_VERSION,
        "result": result,
        "exit_code": int(code),
        "checks": [asdict(check) for check in checks],
    }
