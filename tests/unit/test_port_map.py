"""The shared port map: well-known ports for server 1, blocks after it, collisions rejected."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "whispermon_ports", ROOT / "roles" / "whispermon" / "filter_plugins" / "whispermon_ports.py")
assert _spec is not None and _spec.loader is not None
ports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ports)

DEFAULTS = yaml.safe_load((ROOT / "roles" / "whispermon" / "defaults" / "main.yml").read_text())
COMPONENTS: list[dict[str, Any]] = DEFAULTS["whispermon_components"]


def _map(servers: list[str], hostvars: dict[str, Any] | None = None, **kwargs: Any
         ) -> dict[str, Any]:
    result: dict[str, Any] = ports.port_map(servers, hostvars or {}, COMPONENTS, **kwargs)
    return result


def test_first_server_keeps_well_known_ports() -> None:
    mapping = _map(["a", "b"])
    first = {name: port["local"] for name, port in mapping["a"]["ports"].items()}
    assert first == {"fastapi": 8000, "flower": 5555, "postgres": 9187, "redis": 9121,
                     "host": 9182}


def test_second_server_gets_block() -> None:
    mapping = _map(["a", "b", "c"])
    assert [p["local"] for p in mapping["b"]["ports"].values()] == [19000, 19001, 19002, 19003,
                                                                     19004]
    assert mapping["c"]["ports"]["fastapi"]["local"] == 19010


def test_remote_ports_unchanged_per_server() -> None:
    mapping = _map(["a", "b"])
    assert mapping["b"]["ports"]["flower"]["remote"] == 5555
    assert mapping["b"]["index"] == 1


def test_host_override_used() -> None:
    mapping = _map(["a", "b"], {"b": {"whispermon_local_ports": {"fastapi": 28000}}})
    assert mapping["b"]["ports"]["fastapi"]["local"] == 28000
    assert mapping["b"]["ports"]["flower"]["local"] == 19001


def test_override_collision_rejected() -> None:
    with pytest.raises(Exception, match=r"local port 8000 is used by both a/fastapi and b/fastapi"):
        _map(["a", "b"], {"b": {"whispermon_local_ports": {"fastapi": 8000}}})


def test_block_colliding_with_component_rejected() -> None:
    with pytest.raises(Exception, match="local port 9187"):
        _map(["a", "b"], block_start=9185)


def test_block_too_small_rejected() -> None:
    with pytest.raises(Exception, match="whispermon_port_block_size is 3"):
        _map(["a", "b"], block_size=3)


def test_port_out_of_range_rejected() -> None:
    with pytest.raises(Exception, match="outside 1-65535"):
        _map(["a"], {"a": {"whispermon_local_ports": {"redis": 70000}}})


def test_unknown_override_component_rejected() -> None:
    with pytest.raises(Exception, match="unknown components"):
        _map(["a"], {"a": {"whispermon_local_ports": {"grafana": 3000}}})


def test_duplicate_component_port_rejected() -> None:
    components = [{"name": "x", "port": 80}, {"name": "y", "port": 80}]
    with pytest.raises(Exception, match="both use port 80"):
        ports.port_map(["a"], {}, components)


def test_block_beyond_65535_rejected() -> None:
    with pytest.raises(Exception, match="above 65535"):
        _map(["a", "b"], block_start=65533)
