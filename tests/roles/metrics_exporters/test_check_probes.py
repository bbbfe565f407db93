"""The role's read-only probes against real HTTP servers that play the exporters.

Each component gets a local HTTP server with a chosen /metrics body, so the
warnings for an exporter that cannot log in and for Flower without task events
can be provoked. The JSON callback prints every task result, which is what
ansible-runner's event stream carries, so it shows whether a page body leaks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import run_role_tasks

MARKER = "# body-marker-5c1e9d"
HEALTHY = {
    "postgres": f"{MARKER}\npg_up 1\n",
    "redis": f"{MARKER}\nredis_up 1\n",
    "host": f"{MARKER}\nnode_load1 0.5\n",
    "fastapi": f"{MARKER}\nhttp_requests_total 3\n",
    "flower": f'{MARKER}\nflower_events_total{{task="t",type="task-succeeded"}} 2\n',
}


@dataclass
class Endpoints:
    """The /metrics body each component serves, read at request time, and its port."""

    bodies: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)


def _serve(endpoints: Endpoints, name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = endpoints.bodies[name].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def endpoints() -> Iterator[Endpoints]:
    state = Endpoints(bodies=dict(HEALTHY))
    servers = {name: _serve(state, name) for name in HEALTHY}
    state.ports = {name: server.server_address[1] for name, server in servers.items()}
    yield state
    for server in servers.values():
        server.shutdown()
        server.server_close()


def _run_checks(endpoints: Endpoints) -> tuple[int, str]:
    """Run the role's check.yml on localhost with the JSON callback and return rc and output."""
    result = run_role_tasks(
        "check.yml",
        {
            "metrics_exporters_enabled": ["postgres", "redis", "host"],
            "metrics_exporters_listen_address": "127.0.0.1",
            "metrics_exporters_require_app_endpoints": False,
            "metrics_exporters_app_endpoint_timeout": 5,
            "__metrics_exporters_ports": endpoints.ports,
        },
        stdout_callback="ansible.posix.json",
    )
    return result.returncode, result.stdout + result.stderr


def _warnings(output: str) -> list[str]:
    start = output.index("{")
    report = json.loads(output[start:])
    messages = []
    for play in report["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                for item in result.get("results", [result]):
                    message = item.get("msg")
                    if isinstance(message, str) and message.startswith("WARNING:"):
                        messages.append(" ".join(message.split()))
    return messages


def test_healthy_endpoints_no_warnings(endpoints: Endpoints) -> None:
    code, output = _run_checks(endpoints)
    assert code == 0, output
    assert _warnings(output) == []


def test_exporter_without_login_warns(endpoints: Endpoints) -> None:
    endpoints.bodies["postgres"] = f"{MARKER}\npg_up 0\n"
    code, output = _run_checks(endpoints)
    warnings = _warnings(output)
    assert code == 0, output
    assert len(warnings) == 1, warnings
    assert "postgres_exporter on localhost answers but reports pg_up 0" in warnings[0]
    assert "metrics_exporters_postgres_password" in warnings[0]


def test_flower_without_events_warns(endpoints: Endpoints) -> None:
    endpoints.bodies["flower"] = f"{MARKER}\nflower_workers 1\n"
    endpoints.bodies["redis"] = f"{MARKER}\nredis_up 0\n"
    code, output = _run_checks(endpoints)
    warnings = _warnings(output)
    assert code == 0, output
    assert any("redis_exporter on localhost answers but reports redis_up 0" in w for w in warnings)
    assert any("has no flower_events_total series" in w for w in warnings)
    assert len(warnings) == 2, warnings


def test_page_bodies_stay_out_of_results(endpoints: Endpoints) -> None:
    endpoints.bodies["postgres"] = f"{MARKER}\npg_up 0\n"
    code, output = _run_checks(endpoints)
    assert code == 0, output
    # The probes did read the bodies (the pg_up 0 warning needs them) ...
    assert any("pg_up 0" in w for w in _warnings(output))
    # ... but no task result printed by the callback contains one.
    assert MARKER not in output
