"""Preflight rejects bad input before any change, naming the variable and the fix.

Each case runs the role's preflight tasks on the controller with one bad
input; the first case shows that the good inputs pass.
"""

from __future__ import annotations

import copy
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import PORTS, POSTGRES_PASSWORD, REDIS_PASSWORD, run_role_tasks

DUPLICATE_PORTS = copy.deepcopy(PORTS)
DUPLICATE_PORTS["redis"]["remote"] = 9187
INVALID_PORTS = copy.deepcopy(PORTS)
INVALID_PORTS["host"]["remote"] = 70000


def artifact(version: str, file: str, sha256: str) -> dict[str, str]:
    return {"version": version, "file": file, "url": f"file:///{file}", "sha256": sha256}


ARTIFACTS_WITHOUT_CHECKSUM = {
    "postgres_exporter": artifact("0.15.0", "p.zip", ""),
    "redis_exporter": artifact("1.58.0", "r.zip", "a" * 64),
    "windows_exporter": artifact("0.25.1", "w.msi", "b" * 64),
    "winsw": artifact("2.12.0", "WinSW-x64.exe", "c" * 64),
}

# (case id, overrides, texts the failure output must contain)
CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("good", {}, []),
    ("non_loopback", {"metrics_exporters_listen_address": "0.0.0.0"},
     ["metrics_exporters_listen_address is 0.0.0.0", "metrics_exporters_allow_non_loopback"]),
    ("not_an_address", {"metrics_exporters_listen_address": "localhost"},
     ["metrics_exporters_listen_address is \"localhost\"", "set it to 127.0.0.1"]),
    ("unknown_exporter", {"metrics_exporters_enabled": ["postgres", "mysql"]},
     ["metrics_exporters_enabled is", "Unknown: [\"mysql\"]"]),
    ("duplicate_ports", {"whispermon_port_map": {"localhost": {"index": 0,
                                                               "ports": DUPLICATE_PORTS}}},
     ["Components share a port", "whispermon_components"]),
    ("invalid_port", {"whispermon_port_map": {"localhost": {"index": 0, "ports": INVALID_PORTS}}},
     ["The port of component host", "70000", "between 1 and 65535"]),
    ("missing_postgres_password", {"metrics_exporters_postgres_password": ""},
     ["metrics_exporters_postgres_password is empty", "vault variable"]),
    ("bad_queue_name", {"metrics_exporters_celery_queues": ["celery,other"]},
     ["metrics_exporters_celery_queues is", "comma"]),
    ("version_without_checksum",
     {"wm_gather_facts": False, "ansible_facts": {"os_family": "Windows"},
      "metrics_exporters_windows_artifacts": ARTIFACTS_WITHOUT_CHECKSUM},
     ["metrics_exporters_windows_artifacts.postgres_exporter is", "SHA-256"]),
    ("unknown_artifact",
     {"metrics_exporters_windows_artifacts": {**ARTIFACTS_WITHOUT_CHECKSUM, "nssm": {}}},
     ["names unknown artifacts [\"nssm\"]"]),
]


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {case_id: pool.submit(run_role_tasks, "preflight.yml", overrides)
                   for case_id, overrides, _ in CASES}
        return {case_id: future.result() for case_id, future in futures.items()}


@pytest.mark.parametrize(("case_id", "overrides", "expected"), CASES,
                         ids=[case[0] for case in CASES])
def test_preflight_case(results: dict[str, subprocess.CompletedProcess[str]], case_id: str,
                        overrides: dict[str, Any], expected: list[str]) -> None:
    result = results[case_id]
    output = " ".join((result.stdout + result.stderr).split())
    if not expected:
        assert result.returncode == 0, output
        return
    assert result.returncode != 0, output
    for text in expected:
        assert text in output


def test_preflight_hides_passwords(results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    for result in results.values():
        assert POSTGRES_PASSWORD not in result.stdout
        assert REDIS_PASSWORD not in result.stdout
