"""Filters for the monitoring_stack role: Prometheus durations and dashboard checks.

Nothing from Ansible is imported at load time, so the role's tests can load
this module by path.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Prometheus duration syntax (model.ParseDuration): units in descending order,
# each at most once, for example "90d", "1w2d" or "1h30m".
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)

# --storage.tsdb.retention.size takes a number and a byte unit (units.Base2Bytes).
_SIZE = re.compile(r"^\d+(?:B|KB|MB|GB|TB|PB|EB)$")


def prometheus_duration_seconds(value: Any) -> float:
    """Convert a Prometheus duration such as ``1h30m`` to seconds.

    Returns -1 for text that Prometheus would reject, so callers can assert on it.
    """
    text = str(value).strip()
    match = _DURATION.match(text)
    if not text or text == "0" or not match or not any(match.groups()):
        return -1
    return sum(int(part) * unit for part, unit in zip(match.groups(), _DURATION_UNITS, strict=True)
               if part is not None)


def prometheus_size_valid(value: Any) -> bool:
    """Return whether ``value`` is empty (no size limit) or a size such as ``10GB``."""
    text = str(value).strip()
    return text == "" or bool(_SIZE.match(text))


def _walk_panels(panels: list[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        found.append(panel)
        found.extend(_walk_panels(panel.get("panels") or []))
    return found


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every panel of a classic dashboard, including panels inside collapsed rows."""
    return _walk_panels(dashboard.get("panels") or [])


def _datasource_ok(datasource: Any, variables: set[str], uid: str) -> bool:
    if datasource is None:
        return True  # inherits the panel's (or the default) datasource
    if isinstance(datasource, str):
        return datasource.startswith("$") and datasource.strip("${}") in variables
    if isinstance(datasource, dict):
        ref = str(datasource.get("uid", ""))
        if ref.startswith("$"):
            return ref.strip("${}") in variables
        # Grafana uses its own built-in datasource for annotations and mixed panels.
        return ref in (uid, "grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --")
    return False


def dashboard_problems(text: Any, name: str = "dashboard", uid: str = "prometheus") -> list[str]:
    """List what keeps a dashboard file from working under file provisioning.

    Checks: valid JSON; no ``__inputs`` and no ``${DS_...}`` placeholders (an
    export "for sharing externally", which file provisioning never resolves);
    the classic JSON model rather than the v2 resource format; every panel and
    target references datasource uid ``uid`` or a datasource variable.
    An empty list means the file is fine.
    """
    try:
        dashboard = json.loads(str(text))
    except ValueError as exc:
        return [f"{name} is not valid JSON: {exc}"]
    if not isinstance(dashboard, dict):
        return [f"{name} is not a JSON object"]

    problems: list[str] = []
    if "__inputs" in dashboard:
        problems.append(f"{name} has __inputs (exported for sharing externally); "
                        "export it again without that option")
    if "${DS_" in str(text):
        problems.append(f"{name} references a ${{DS_...}} datasource input; "
                        f"replace it with the datasource uid {uid!r}")
    if "panels" not in dashboard and ("elements" in dashboard or "spec" in dashboard):
        problems.append(f"{name} is in Grafana's v2 resource format; file provisioning "
                        "loads only the classic JSON model (panels, schemaVersion)")
        return problems

    variables = {str(v.get("name")) for v in (dashboard.get("templating") or {}).get("list", [])
                 if isinstance(v, dict) and v.get("type") == "datasource"}
    for panel in dashboard_panels(dashboard):
        label = f"{name} panel {panel.get('id')!r} ({panel.get('title', '')!r})"
        if not _datasource_ok(panel.get("datasource"), variables, uid):
            problems.append(f"{label} uses datasource {panel.get('datasource')!r}; "
                            f"use {{\"type\": \"prometheus\", \"uid\": \"{uid}\"}}")
        for target in panel.get("targets") or []:
            if isinstance(target, dict) and not _datasource_ok(target.get("datasource"),
                                                               variables, uid):
                problems.append(f"{label} has a target with datasource "
                                f"{target.get('datasource')!r}; use uid {uid!r}")
    return problems


class FilterModule:
    """Jinja2 filters for the monitoring_stack role."""

    def filters(self) -> dict[str, Any]:
        return {
            "monitoring_stack_duration_seconds": prometheus_duration_seconds,
            "monitoring_stack_size_valid": prometheus_size_valid,
            "monitoring_stack_dashboard_problems": dashboard_problems,
        }
