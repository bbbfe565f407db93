"""Artifacts for Windows are verified on the controller before use.

A file whose SHA-256 differs from the pinned value is rejected with a message
naming the variable, both from the user's artifact folder and when downloaded
(here from a file:// URL, because tests reach no download site).
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

from .conftest import run_role_tasks

MEMBER = "postgres_exporter-9.9.9.windows-amd64/postgres_exporter.exe"


def make_zip(folder: Path) -> tuple[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "postgres_exporter-9.9.9.windows-amd64.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, b"MZ fake exporter")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def artifact_vars(path: Path, sha256: str, **extra: Any) -> dict[str, Any]:
    return {
        "__metrics_exporters_artifact_name": "postgres_exporter",
        "metrics_exporters_windows_artifacts": {
            "postgres_exporter": {
                "version": "9.9.9",
                "file": path.name,
                "url": path.as_uri(),
                "sha256": sha256,
                "member": MEMBER,
            },
        },
        **extra,
    }


def test_artifact_dir_good_checksum(tmp_path: Path) -> None:
    path, sha256 = make_zip(tmp_path / "offline")
    cache = tmp_path / "cache"
    result = run_role_tasks("artifact.yml", artifact_vars(
        path, sha256,
        metrics_exporters_artifact_dir=str(path.parent),
        metrics_exporters_controller_cache_dir=str(cache),
    ))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (cache / MEMBER).read_bytes() == b"MZ fake exporter"


def test_artifact_dir_wrong_checksum_rejected(tmp_path: Path) -> None:
    path, _ = make_zip(tmp_path / "offline")
    cache = tmp_path / "cache"
    result = run_role_tasks("artifact.yml", artifact_vars(
        path, "0" * 64,
        metrics_exporters_artifact_dir=str(path.parent),
        metrics_exporters_controller_cache_dir=str(cache),
    ))
    assert result.returncode != 0
    assert "metrics_exporters_windows_artifacts.postgres_exporter.sha256" in result.stdout
    assert "The file is not used" in result.stdout
    assert not (cache / MEMBER).exists()


def test_artifact_dir_missing_file_rejected(tmp_path: Path) -> None:
    path, sha256 = make_zip(tmp_path / "offline")
    path.unlink()
    result = run_role_tasks("artifact.yml", artifact_vars(
        path, sha256,
        metrics_exporters_artifact_dir=str(path.parent),
        metrics_exporters_controller_cache_dir=str(tmp_path / "cache"),
    ))
    assert result.returncode != 0
    assert "does not exist" in result.stdout


def test_download_good_checksum_cached(tmp_path: Path) -> None:
    path, sha256 = make_zip(tmp_path / "upstream")
    cache = tmp_path / "cache"
    result = run_role_tasks("artifact.yml", artifact_vars(
        path, sha256, metrics_exporters_controller_cache_dir=str(cache),
    ))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (cache / path.name).read_bytes() == path.read_bytes()
    assert (cache / MEMBER).is_file()


def test_download_wrong_checksum_rejected(tmp_path: Path) -> None:
    path, _ = make_zip(tmp_path / "upstream")
    cache = tmp_path / "cache"
    result = run_role_tasks("artifact.yml", artifact_vars(
        path, "f" * 64, metrics_exporters_controller_cache_dir=str(cache),
    ))
    assert result.returncode != 0
    assert "checksum" in result.stdout.lower()
    assert not (cache / path.name).exists()


def test_cached_file_tampered_rejected(tmp_path: Path) -> None:
    path, sha256 = make_zip(tmp_path / "upstream")
    cache = tmp_path / "cache"
    first = run_role_tasks("artifact.yml", artifact_vars(
        path, sha256, metrics_exporters_controller_cache_dir=str(cache),
    ))
    assert first.returncode == 0, first.stdout + first.stderr
    # The upstream file changes, the pin does not: the next run must not
    # accept the new bytes.
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, b"MZ something else")
    (cache / path.name).unlink()
    second = run_role_tasks("artifact.yml", artifact_vars(
        path, sha256, metrics_exporters_controller_cache_dir=str(cache),
    ))
    assert second.returncode != 0
    assert "checksum" in second.stdout.lower()
