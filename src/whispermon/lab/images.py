"""Build the lab's images: a Debian base with systemd, the server, and Prometheus.

Each image carries a label with a hash of the files it was built from, so a
change to the recipe rebuilds it and an unchanged recipe reuses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from whispermon.errors import WhispermonError
from whispermon.lab.engine import docker

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"
# Containers inherit their image's labels, so images carry a label of their own
# and only the objects the lab creates carry OWNER_LABEL (see topology.py).
IMAGE_LABEL = "io.whispermon.lab.image"
RECIPE_LABEL = "io.whispermon.lab.recipe"
BASE_IMAGE = "whispermon-lab/base:bookworm"
SERVER_IMAGE = "whispermon-lab/server:bookworm"
LOCAL_PROMETHEUS_IMAGE = "whispermon-lab/prometheus:debian"
DEBIAN_MIRROR = os.environ.get("WHISPERMON_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = (
    "python3,python3-apt,openssh-server,systemd,systemd-sysv,sudo,iproute2,ca-certificates,curl"
)
# The host's CA bundle. Where HTTPS is intercepted, containers need it to reach
# PyPI; elsewhere (a Mac with Docker Desktop) it may not exist and is not needed.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class LabImages:
    """The images one lab uses; ``grafana`` is None where no Grafana image can be had."""

    base: str
    server: str
    prometheus: str
    grafana: str | None


def recipe_hash(*paths: Path, extra: str = "") -> str:
    """Hash the files under ``paths`` (names and contents) and ``extra``."""
    digest = hashlib.sha256(extra.encode())
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for file in files:
            digest.update(str(file.relative_to(root.parent)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _image_recipe(image: str) -> str | None:
    result = docker(
        "image",
        "inspect",
        "--format",
        '{{ index .Config.Labels "' + RECIPE_LABEL + '" }}',
        image,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def image_exists(image: str) -> bool:
    return docker("image", "inspect", image, check=False).returncode == 0


def try_pull(image: str) -> bool:
    """Pull ``image`` unless present; return False when no registry can provide it."""
    if image_exists(image):
        return True
    result = docker("pull", "--quiet", image, check=False, timeout=900)
    if result.returncode != 0:
        log.info("cannot pull %s: %s", image, result.stderr.strip()[-200:])
    return result.returncode == 0


def _require_debootstrap() -> None:
    if shutil.which("debootstrap"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "debootstrap"],
            check=False,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if not shutil.which("debootstrap"):
        raise WhispermonError(
            "build the lab base image",
            "no registry answers and debootstrap is not installed",
            "install debootstrap (apt-get install debootstrap) and retry",
        )


def build_base(work_dir: Path) -> None:
    """Build the base image from debian:bookworm, or with debootstrap when offline."""
    recipe = recipe_hash(ASSETS / "base", extra=BASE_PACKAGES)
    if _image_recipe(BASE_IMAGE) == recipe:
        return
    if try_pull("debian:bookworm"):
        log.info("building %s from debian:bookworm", BASE_IMAGE)
        docker(
            "build",
            "--label",
            f"{IMAGE_LABEL}=1",
            "--label",
            f"{RECIPE_LABEL}={recipe}",
            "-t",
            BASE_IMAGE,
            str(ASSETS / "base"),
            timeout=1800,
        )
        return
    _require_debootstrap()
    if os.geteuid() != 0:
        raise WhispermonError(
            "build the lab base image",
            "no registry answers and debootstrap needs root",
            "run 'sudo whispermon lab up' once to build the base image",
        )
    log.info("no registry responds; building %s with debootstrap (about a minute)", BASE_IMAGE)
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="rootfs-") as rootfs:
        result = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={BASE_PACKAGES}",
                "bookworm",
                rootfs,
                DEBIAN_MIRROR,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise WhispermonError(
                "build the lab base image with debootstrap",
                result.stderr.strip()[-300:] or result.stdout.strip()[-300:],
                f"check that {DEBIAN_MIRROR} is reachable",
            )
        Path(rootfs, "etc/apt/sources.list").write_text(
            f"deb {DEBIAN_MIRROR} bookworm main\n"
            f"deb {DEBIAN_MIRROR} bookworm-updates main\n"
            f"deb {DEBIAN_MIRROR}-security bookworm-security main\n"
        )
        subprocess.run(["sh", str(ASSETS / "base" / "fixup.sh"), rootfs], check=True)
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE
        )
        imported = subprocess.run(
            [
                "docker",
                "import",
                "--change",
                "ENV container=docker",
                "--change",
                'CMD ["/lib/systemd/systemd"]',
                "--change",
                f"LABEL {IMAGE_LABEL}=1 {RECIPE_LABEL}={recipe}",
                "-",
                BASE_IMAGE,
            ],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise WhispermonError(
                "import the lab base image",
                imported.stderr.strip(),
                "check free disk space and the Docker engine's log",
            )


def build_server() -> None:
    """Install the stand-in pipeline into a container from the base image and commit it."""
    recipe = recipe_hash(ASSETS / "server", extra=_image_id(BASE_IMAGE))
    if _image_recipe(SERVER_IMAGE) == recipe:
        return
    log.info(
        "building %s (PostgreSQL, Redis, FastAPI, Celery, Flower; a few minutes)", SERVER_IMAGE
    )
    name = f"whispermon-lab-build-{uuid.uuid4().hex[:8]}"
    run = [
        "run",
        "--name",
        name,
        "--label",
        f"{IMAGE_LABEL}=1",
        "-v",
        f"{ASSETS / 'server'}:/tmp/whispermon-assets:ro",
    ]
    if HOST_CA_BUNDLE.is_file():
        run += [
            "-v",
            f"{HOST_CA_BUNDLE}:/tmp/host-ca.crt:ro",
            "-e",
            "PIP_CERT=/tmp/host-ca.crt",
            "-e",
            "SSL_CERT_FILE=/tmp/host-ca.crt",
        ]
    # A path inside the build container, where the assets are mounted read-only.
    run += [BASE_IMAGE, "sh", "/tmp/whispermon-assets/install.sh"]  # noqa: S108
    try:
        result = docker(*run, check=False, timeout=1800)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
            raise WhispermonError(
                "build the lab server image",
                "\n".join(tail),
                "check that the Debian mirror and PyPI are reachable",
            )
        docker(
            "commit",
            "--change",
            'CMD ["/lib/systemd/systemd"]',
            "--change",
            f"LABEL {IMAGE_LABEL}=1 {RECIPE_LABEL}={recipe}",
            name,
            SERVER_IMAGE,
        )
    finally:
        docker("rm", "-f", name, check=False)


def _image_id(image: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def build_local_prometheus() -> None:
    """Build a Prometheus image from Debian's package, for machines with no registry."""
    recipe = recipe_hash(ASSETS / "prometheus", extra=_image_id(BASE_IMAGE))
    if _image_recipe(LOCAL_PROMETHEUS_IMAGE) == recipe:
        return
    log.info("building %s from Debian's prometheus package", LOCAL_PROMETHEUS_IMAGE)
    docker(
        "build",
        "--build-arg",
        f"BASE={BASE_IMAGE}",
        "--label",
        f"{IMAGE_LABEL}=1",
        "--label",
        f"{RECIPE_LABEL}={recipe}",
        "-t",
        LOCAL_PROMETHEUS_IMAGE,
        str(ASSETS / "prometheus"),
        timeout=1800,
    )


def pinned_images(project_dir: Path) -> tuple[str, str]:
    """Return the Prometheus and Grafana images pinned in the monitoring_stack role."""
    defaults = project_dir / "roles" / "monitoring_stack" / "defaults" / "main.yml"
    values = yaml.safe_load(defaults.read_text()) if defaults.is_file() else {}
    return (
        str(values.get("monitoring_stack_prometheus_image", "")),
        str(values.get("monitoring_stack_grafana_image", "")),
    )


def build_all(project_dir: Path, work_dir: Path) -> LabImages:
    """Build or reuse every lab image and choose Prometheus and Grafana images."""
    build_base(work_dir)
    build_server()
    official_prometheus, official_grafana = pinned_images(project_dir)
    if official_prometheus and try_pull(official_prometheus):
        prometheus = official_prometheus
    else:
        build_local_prometheus()
        prometheus = LOCAL_PROMETHEUS_IMAGE
    grafana = official_grafana if official_grafana and try_pull(official_grafana) else None
    return LabImages(base=BASE_IMAGE, server=SERVER_IMAGE, prometheus=prometheus, grafana=grafana)
