"""``whispermon doctor`` running the real playbooks/doctor.yml against localhost.

A small HTTP server replaces Prometheus and serves one forwarded metrics
port, and the other forwarded ports are closed. No lab is needed: every host of
the inventory is this machine with ``connection: local``. Tunnel units do not
exist here, so the tunnel checks fail, which the test expects.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import jsonschema
import pytest
import yaml

from whispermon import doctor

ROOT = Path(__file__).resolve().parents[2]

# The fake server's thread is alive when pexpect forks ansible-playbook; the
# child execs at once, so Python's warning about fork in threads does not apply.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)

TARGETS = {
    "status": "success",
    "data": {
        "activeTargets": [
            {
                "labels": {"job": "fastapi", "server": "server-a"},
                "health": "up",
                "lastError": "",
                "scrapeUrl": "http://host.docker.internal:8000/metrics",
            },
            {
                "labels": {"job": "flower", "server": "server-b"},
                "health": "down",
                "lastError": "connection refused",
                "scrapeUrl": "http://host.docker.internal:19001/metrics",
            },
        ]
    },
}
FLOWER = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {"metric": {"server": "server-a"}, "value": [1700000000, "2"]},
        ],
    },
}


class FakePrometheus(BaseHTTPRequestHandler):
    """Serve the Prometheus API calls of doctor.yml, and /metrics."""

    queries: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/metrics":
            self._send(200, "text/plain", b"up 1\n")
        elif url.path == "/-/ready":
            self._send(200, "text/plain", b"Prometheus Server is Ready.\n")
        elif url.path == "/api/v1/targets":
            self._send(200, "application/json", json.dumps(TARGETS).encode())
        elif url.path == "/api/v1/query":
            self.queries.extend(parse_qs(url.query).get("query", []))
            self._send(200, "application/json", json.dumps(FLOWER).encode())
        else:
            self._send(404, "text/plain", b"not found\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def fake_prometheus() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def doctor_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_prometheus: int) -> Path:
    project = tmp_path / "project"

    (project / "playbooks").mkdir(parents=True)
    shutil.copy(ROOT / "playbooks" / "doctor.yml", project / "playbooks" / "doctor.yml")
    shutil.copytree(ROOT / "roles" / "whispermon", project / "roles" / "whispermon")
    (project / "site.yml").write_text("---\n[]\n")
    (project / "ansible.cfg").write_text(
        "[defaults]\ninventory = inventory.yml\nroles_path = roles\n"
        "retry_files_enabled = false\ninterpreter_python = auto_silent\n"
    )

    local = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    inventory = {
        "all": {
            "vars": {
                **local,
                "whispermon_components": [
                    {"name": "fastapi", "port": 8000, "path": "/metrics"},
                    {"name": "flower", "port": 5555, "path": "/metrics"},
                ],
            },
            "children": {
                "whisper_servers": {
                    "hosts": {
                        "server-a": {
                            "whispermon_local_ports": {
                                "fastapi": fake_prometheus,
                                "flower": _closed_port(),
                            }
                        },
                        "server-b": {
                            "whispermon_local_ports": {
                                "fastapi": _closed_port(),
                                "flower": _closed_port(),
                            }
                        },
                    }
                },
                "tunnel_clients": {"hosts": {"workstation": None}},
                "monitoring_hosts": {
                    "hosts": {
                        "controller": {
                            "monitoring_stack_prometheus_port": fake_prometheus,
                            "monitoring_stack_grafana_enabled": False,
                        }
                    }
                },
            },
        }
    }
    (project / "inventory.yml").write_text(yaml.safe_dump(inventory))

    monkeypatch.setenv("WHISPERMON_PROJECT_DIR", str(project))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return project


def _by_name(checks: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(check["check"], check["name"]): check for check in checks}


def test_doctor_playbook_end_to_end(invoke: Any, doctor_project: Path, tmp_path: Path) -> None:
    result = invoke(["doctor", "--json"])
    assert result.code == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, doctor.DOCTOR_JSON_SCHEMA)
    checks = _by_name(data["checks"])

    assert checks[("forward", "fastapi of server-a through the tunnel")]["status"] == "pass"
    for name in (
        "flower of server-a through the tunnel",
        "fastapi of server-b through the tunnel",
        "flower of server-b through the tunnel",
    ):
        assert checks[("forward", name)]["status"] == "fail", name
    tunnel = checks[("tunnel", "tunnel to server-b")]
    assert tunnel["status"] == "fail"
    assert tunnel["host"] == "workstation"
    assert "whispermon-tunnel-server-b.service" in tunnel["fix"]
    assert checks[("prometheus_ready", "Prometheus ready")]["status"] == "pass"
    assert checks[("target", "target fastapi of server-a")]["status"] == "pass"
    down = checks[("target", "target flower of server-b")]
    assert down["status"] == "fail"
    assert down["detail"].endswith("connection refused")
    assert checks[("flower_events", "Flower task events of server-a")]["status"] == "pass"
    missing = checks[("flower_events", "Flower task events of server-b")]
    assert missing["status"] == "fail"
    assert "-E" in missing["fix"]
    assert checks[("grafana_health", "Grafana healthy")]["status"] == "skip"
    assert checks[("grafana_datasource", "Grafana datasource prometheus")]["status"] == "skip"
    assert FakePrometheus.queries[-1] == (
        "count by (server) (flower_events_total"
        '{type=~"task-(received|started|succeeded|failed|retried|rejected|revoked)"})'
    )

    # The doctor changed nothing on any host.
    (stats_file,) = [
        path
        for path in (tmp_path / "state").rglob("job_events/*.json")
        if '"playbook_on_stats"' in path.read_text()
    ]
    assert json.loads(stats_file.read_text())["event_data"]["changed"] == {}


def test_doctor_text_output_lists_fixes(invoke: Any, doctor_project: Path) -> None:
    result = invoke(["--no-color", "doctor"])
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert "To fix:" in lines
    assert "PASS  Prometheus ready (controller): " in result.stdout
    assert any(
        line.startswith("  Flower task events of server-b (controller): on server-b: ")
        for line in lines
    )
    assert lines[-1].endswith("skipped.")
