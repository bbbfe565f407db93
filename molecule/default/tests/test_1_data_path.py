"""Every target is scraped through the tunnels and every kind of metric arrives."""

from __future__ import annotations

from conftest import COMPONENTS, SERVERS, query, targets, wait_until


def test_every_target_up() -> None:
    current = targets()
    labels = {(t["labels"].get("server"), t["labels"].get("component")) for t in current
              if t["labels"].get("job") != "prometheus"}
    assert labels == {(server, component) for server in SERVERS for component in COMPONENTS}
    for target in current:
        assert target["health"] == "up", f"{target['scrapeUrl']}: {target.get('lastError')}"


def test_scrapes_go_through_tunnel_ports() -> None:
    for target in targets():
        if target["labels"].get("job") == "prometheus":
            continue
        assert "host.docker.internal" in target["scrapeUrl"], target["scrapeUrl"]


def test_flower_task_events_both_outcomes() -> None:
    for outcome in ("task-succeeded", "task-failed"):
        for server in SERVERS:
            series = wait_until(
                lambda server=server, outcome=outcome: query(
                    f'flower_events_total{{type="{outcome}",server="{server}"}}'), 90)
            assert series, f"no {outcome} events from {server}"


def test_metric_families_per_server() -> None:
    families = {
        "requests": 'http_requests_total{server="%s"}',
        "tasks": 'flower_events_total{server="%s"}',
        "database": 'pg_stat_database_xact_commit{server="%s"}',
        "redis": 'redis_commands_processed_total{server="%s"}',
        "queue": 'redis_key_size{key="celery",server="%s"}',
        "host": 'node_memory_MemAvailable_bytes{server="%s"}',
    }
    for server in SERVERS:
        for kind, selector in families.items():
            expression = selector % server
            assert query(expression), f"{server}: no {kind} metric ({expression})"


def test_database_and_redis_report_up() -> None:
    for server in SERVERS:
        assert query(f'pg_up{{server="{server}"}} == 1'), f"{server}: pg_up is not 1"
        assert query(f'redis_up{{server="{server}"}} == 1'), f"{server}: redis_up is not 1"
