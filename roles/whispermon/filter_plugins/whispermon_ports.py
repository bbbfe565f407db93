"""Port map shared by the whispermon roles and the lab.

Every server exposes the same components on 127.0.0.1. The monitoring host
reaches server N through local ports: the first server keeps the components'
own ports, later servers get a block each. A server may set
``whispermon_local_ports`` (component name -> port) to choose its own.

This module imports nothing from Ansible at load time so the lab and the unit
tests can load it by path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PortMapError(ValueError):
    """Invalid component or port settings."""


def _error(message: str) -> Exception:
    try:
        from ansible.errors import AnsibleFilterError
    except ImportError:  # pragma: no cover - only outside an Ansible environment
        return PortMapError(message)
    return AnsibleFilterError(message)


def _check_port(variable: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise _error(f"{variable} must be a TCP port number, got {value!r}") from None
    if not 1 <= value <= 65535:
        raise _error(f"{variable} is {value}, outside 1-65535; choose a port in that range")
    return value


def validate_components(components: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the components with defaults filled in, or raise on bad input."""
    if not components:
        raise _error("whispermon_components is empty; list at least one component")
    checked: list[dict[str, Any]] = []
    seen_names: set[str] = set()
    seen_ports: dict[int, str] = {}
    for index, component in enumerate(components):
        name = str(component.get("name", ""))
        if not _NAME.match(name):
            raise _error(
                f"whispermon_components[{index}].name is {name!r}; use lower-case letters, "
                "digits and underscores, starting with a letter"
            )
        if name in seen_names:
            raise _error(f"whispermon_components lists {name!r} twice; give each component once")
        port = _check_port(f"whispermon_components[{index}].port", component.get("port"))
        if port in seen_ports:
            raise _error(
                f"whispermon_components: {name!r} and {seen_ports[port]!r} both use port {port}; "
                "each component needs its own port"
            )
        path = str(component.get("path") or "/metrics")
        if not path.startswith("/"):
            raise _error(f"whispermon_components[{index}].path is {path!r}; it must start with /")
        seen_names.add(name)
        seen_ports[port] = name
        checked.append({"name": name, "port": port, "path": path})
    return checked


def port_map(
    servers: Sequence[str],
    hostvars: Mapping[str, Mapping[str, Any]],
    components: Sequence[Mapping[str, Any]],
    block_start: int = 19000,
    block_size: int = 10,
) -> dict[str, dict[str, Any]]:
    """Map each server to its index and, per component, local and remote port.

    Raises when a block is too small, a port is out of range, or two servers
    (or a server and a component's own port) would share a local port.
    """
    checked = validate_components(components)
    block_start = _check_port("whispermon_port_block_start", block_start)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < len(checked):
        raise _error(
            f"whispermon_port_block_size is {block_size!r}, smaller than the {len(checked)} "
            "components; set it to at least the number of components"
        )

    result: dict[str, dict[str, Any]] = {}
    owners: dict[int, str] = {}
    for index, server in enumerate(servers):
        overrides = dict((hostvars.get(server) or {}).get("whispermon_local_ports") or {})
        unknown = sorted(set(overrides) - {c["name"] for c in checked})
        if unknown:
            raise _error(
                f"whispermon_local_ports on {server} names unknown components {unknown}; "
                f"known: {[c['name'] for c in checked]}"
            )
        ports: dict[str, dict[str, Any]] = {}
        for position, component in enumerate(checked):
            if component["name"] in overrides:
                local = _check_port(
                    f"whispermon_local_ports.{component['name']} on {server}",
                    overrides[component["name"]],
                )
            elif index == 0:
                local = component["port"]
            else:
                local = block_start + (index - 1) * block_size + position
                if local > 65535:
                    raise _error(
                        f"server {server} would get local port {local}, above 65535; lower "
                        "whispermon_port_block_start or set whispermon_local_ports on it"
                    )
            label = f"{server}/{component['name']}"
            if local in owners:
                raise _error(
                    f"local port {local} is used by both {owners[local]} and {label}; change "
                    "whispermon_local_ports or whispermon_port_block_start so each is unique"
                )
            owners[local] = label
            ports[component["name"]] = {
                "local": local,
                "remote": component["port"],
                "path": component["path"],
            }
        result[server] = {"index": index, "ports": ports}
    return result


class FilterModule:
    """Jinja2 filters for the whispermon roles."""

    def filters(self) -> dict[str, Any]:
        return {"whispermon_port_map": port_map}
