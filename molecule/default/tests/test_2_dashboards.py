"""Every panel query of every provisioned dashboard returns data for each lab server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import SERVERS, lab_state_dir, query, wait_until


def _dashboard_files() -> list[Path]:
    # inventory/lab puts the monitoring stack in <lab state>/monitoring.
    return sorted((lab_state_dir() / "monitoring").rglob("dashboards/*.json"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def _substitute(expression: str, server: str) -> str:
    expression = expression.replace("$__rate_interval", "1m").replace("${__rate_interval}", "1m")
    expression = expression.replace("$__interval", "1m").replace("${__interval}", "1m")
    expression = expression.replace("$__range", "5m").replace("${__range}", "5m")
    return re.sub(r"\$\{?server(?::\w+)?\}?", server, expression)


def test_dashboards_provisioned() -> None:
    assert _dashboard_files(), "no provisioned dashboard files found"


@pytest.mark.parametrize("server", SERVERS)
def test_every_panel_returns_data(server: str) -> None:
    empty: list[str] = []
    for path in _dashboard_files():
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                expression = target.get("expr")
                if not expression:
                    continue
                concrete = _substitute(expression, server)
                if not wait_until(lambda concrete=concrete: query(concrete), 60, 10):
                    empty.append(f"{path.name} / {panel.get('title')}: {concrete}")
    assert not empty, "panels without data:\n" + "\n".join(empty)
