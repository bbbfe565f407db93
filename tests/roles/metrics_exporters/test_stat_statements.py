"""pg_stat_statements detection notes why the statistics are left out.

The controller has no PostgreSQL on the probed port, so the check cannot
succeed and the role must say so instead of failing.
"""

from __future__ import annotations

from .conftest import POSTGRES_PASSWORD, run_role_tasks


def test_stat_statements_unreachable_noted() -> None:
    result = run_role_tasks("stat_statements.yml", {"metrics_exporters_postgres_port": 1})
    output = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NOTE: pg_stat_statements query statistics are not exported" in output
    assert "psql could not run the check" in output
    assert POSTGRES_PASSWORD not in result.stdout
