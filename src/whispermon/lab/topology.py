"""Create, inspect and remove the lab's containers, network and state.

Every container, network and volume the lab creates carries the label
``io.whispermon.lab.owner=lab``; removal goes by that label (and by the
monitoring stack's compose project name), so nothing else on the Docker engine
is touched. Containers that others start from the lab's images (molecule
scenarios, for one) inherit only the images' labels and are left alone.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import shutil
import string
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from whispermon.errors import WhispermonError
from whispermon.lab import images
from whispermon.lab.engine import docker, ensure_engine

log = logging.getLogger(__name__)

NETWORK = "whispermon-lab"
PREFIX = "whispermon-lab-"
SERVERS = ("server-1", "server-2")
WORKSTATION = "workstation"
# Compose project of the lab's monitoring stack (set in inventory/lab).
MONITORING_PROJECT = "whispermon-lab"
LABEL = "io.whispermon.lab.owner"
SYSTEMD_FLAGS = (
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--cgroupns=host",
    "--stop-signal",
    "SIGRTMIN+3",
)


@dataclass
class ContainerStatus:
    """One lab container as Docker reports it."""

    host: str
    name: str
    state: str
    image: str


def lab_state_dir(base: Path) -> Path:
    explicit = os.environ.get("WHISPERMON_LAB_STATE")
    return Path(explicit) if explicit else base / "lab"


def _load_port_module(project_dir: Path) -> Any:
    path = project_dir / "roles" / "whispermon" / "filter_plugins" / "whispermon_ports.py"
    spec = importlib.util.spec_from_file_location("whispermon_ports", path)
    if spec is None or spec.loader is None:
        raise WhispermonError(
            "load the port map", f"{path} is missing", "run whispermon from a complete checkout"
        )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tunnel_ports(project_dir: Path) -> list[int]:
    """Return the local tunnel ports of the lab's servers, from the shared port map."""
    defaults = yaml.safe_load(
        (project_dir / "roles" / "whispermon" / "defaults" / "main.yml").read_text()
    )
    module = _load_port_module(project_dir)
    mapping = module.port_map(
        list(SERVERS),
        {},
        defaults["whispermon_components"],
        defaults["whispermon_port_block_start"],
        defaults["whispermon_port_block_size"],
    )
    return sorted(port["local"] for server in mapping.values() for port in server["ports"].values())


def bridge_gateway(probe_image: str) -> str:
    """Return the address host.docker.internal (``host-gateway``) resolves to.

    Docker 20.10 leaves the default bridge's gateway out of its IPAM config,
    so ask a throwaway container how it resolves ``host-gateway``.
    """
    result = docker(
        "run",
        "--rm",
        "--label",
        f"{LABEL}=lab",
        "--add-host",
        "whispermon-gateway:host-gateway",
        "--entrypoint",
        "getent",
        probe_image,
        "ahostsv4",
        "whispermon-gateway",
        check=False,
    )
    for line in result.stdout.splitlines():
        address = line.split()[0] if line.split() else ""
        if address.count(".") == 3:
            return address
    raise WhispermonError(
        "find the docker bridge gateway",
        f"host-gateway did not resolve in {probe_image}: "
        f"{result.stderr.strip() or result.stdout.strip()}",
        "check 'docker network inspect bridge' and the engine's host-gateway-ip",
    )


def _generate_password() -> str:
    # URL- and shell-special characters on purpose: the roles must encode them.
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return core[:8] + "@:/?#%&+=!" + core[8:]


def _load_or_create_secrets(state: Path) -> dict[str, str]:
    path = state / "secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    values = {"postgres_password": _generate_password(), "redis_password": _generate_password()}
    state.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle)
    return values


def _container_state(name: str) -> str | None:
    result = docker("inspect", "--format", "{{.State.Status}}", name, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def _ensure_network() -> bool:
    if docker("network", "inspect", NETWORK, check=False).returncode == 0:
        return False
    docker("network", "create", "--label", f"{LABEL}=lab", NETWORK)
    return True


def _ensure_container(host: str, image: str, extra: tuple[str, ...] = ()) -> bool:
    """Start the container for ``host``; return True when something changed."""
    name = PREFIX + host
    state = _container_state(name)
    if state == "running":
        return False
    if state is not None:
        docker("start", name)
        return True
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        host,
        "--network",
        NETWORK,
        "--network-alias",
        host,
        "--label",
        f"{LABEL}=lab",
        "--label",
        f"io.whispermon.lab.host={host}",
        *SYSTEMD_FLAGS,
        *extra,
        image,
        "/lib/systemd/systemd",
    )
    return True


def _wait_for_systemd(name: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    state = ""
    while time.monotonic() < deadline:
        result = docker("exec", name, "systemctl", "is-system-running", check=False)
        state = result.stdout.strip()
        if state in ("running", "degraded"):
            if state == "degraded":
                failed = docker(
                    "exec", name, "systemctl", "--failed", "--no-legend", check=False
                ).stdout.strip()
                log.warning("%s booted degraded: %s", name, failed)
            return
        time.sleep(1)
    raise WhispermonError(
        f"boot systemd in {name}",
        f"state is {state!r} after {seconds:.0f} s",
        f"see 'docker logs {name}' and 'docker exec {name} systemctl --failed'",
    )


def up(project_dir: Path, state_base: Path) -> dict[str, Any]:
    """Build the images and start the lab; safe to run again. Return the lab's state."""
    state = lab_state_dir(state_base)
    ensure_engine(state)
    lab_images = images.build_all(project_dir, state / "build")
    gateway = bridge_gateway(lab_images.base)
    publish: list[str] = []
    for port in tunnel_ports(project_dir):
        publish += ["-p", f"{gateway}:{port}:{port}"]

    changed = _ensure_network()
    for host in SERVERS:
        changed |= _ensure_container(host, lab_images.server)
    changed |= _ensure_container(WORKSTATION, lab_images.base, tuple(publish))

    values = _load_or_create_secrets(state)
    for host in (*SERVERS, WORKSTATION):
        _wait_for_systemd(PREFIX + host)
    for host in SERVERS:
        # The secrets go through stdin so they never show in a process list.
        docker(
            "exec",
            "-i",
            PREFIX + host,
            "/usr/local/sbin/lab-configure",
            input_text=json.dumps(values),
            timeout=300,
        )

    record: dict[str, Any] = {
        "images": asdict(lab_images),
        "bridge_gateway": gateway,
        "network": NETWORK,
        "containers": {host: PREFIX + host for host in (*SERVERS, WORKSTATION)},
        "secrets": values,
    }
    path = state / "lab.json"
    previous = path.read_text() if path.exists() else ""
    text = json.dumps(record, indent=2, sort_keys=True)
    if text != previous:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        changed = True
    record["changed"] = changed
    return record


def _containers(label_filter: str, host_label: str) -> list[ContainerStatus]:
    """List the containers matching ``label_filter``, named after their ``host_label`` label.

    A container without that label is named after itself.
    """
    result = docker(
        "ps",
        "-a",
        "--filter",
        f"label={label_filter}",
        "--format",
        "{{.Names}}\t{{.State}}\t{{.Image}}\t{{.Label " + f'"{host_label}"' + "}}",
    )
    rows = []
    for line in result.stdout.splitlines():
        name, state, image, host = [*line.split("\t"), "", "", ""][:4]
        rows.append(ContainerStatus(host=host or name, name=name, state=state, image=image))
    return sorted(rows, key=lambda row: row.name)


def status() -> list[ContainerStatus]:
    """Return the lab's containers, in a stable order."""
    return _containers(f"{LABEL}=lab", "io.whispermon.lab.host")


def monitoring_containers() -> list[ContainerStatus]:
    """Return the containers of the lab's monitoring stack (made by site.yml)."""
    return _containers(
        f"com.docker.compose.project={MONITORING_PROJECT}", "com.docker.compose.service"
    )


def down(state_base: Path, remove_images: bool = False) -> list[str]:
    """Remove the lab's containers, network, volumes and state; return what was removed."""
    state = lab_state_dir(state_base)
    removed: list[str] = []
    filters = (f"label={LABEL}=lab", f"label=com.docker.compose.project={MONITORING_PROJECT}")
    for label_filter in filters:
        ids = docker("ps", "-aq", "--filter", label_filter).stdout.split()
        if ids:
            docker("rm", "-f", "-v", *ids)
            removed += [f"container {i}" for i in ids]
    for label_filter in filters:
        names = docker("network", "ls", "-q", "--filter", label_filter).stdout.split()
        for network in names:
            docker("network", "rm", network)
            removed.append(f"network {network}")
        volumes = docker("volume", "ls", "-q", "--filter", label_filter).stdout.split()
        if volumes:
            docker("volume", "rm", *volumes)
            removed += [f"volume {v}" for v in volumes]
    if remove_images:
        for image in (images.SERVER_IMAGE, images.LOCAL_PROMETHEUS_IMAGE, images.BASE_IMAGE):
            if images.image_exists(image):
                docker("rmi", image)
                removed.append(f"image {image}")
    if state.exists():
        shutil.rmtree(state)
        removed.append(f"state {state}")
    return removed
