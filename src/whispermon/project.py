"""Locate the whispermon project (playbooks, roles) and the user's state directory."""

from __future__ import annotations

import os
from pathlib import Path

from whispermon.errors import WhispermonError


def find_project_dir(start: Path | None = None) -> Path:
    """Return the directory that contains site.yml.

    Looks at ``WHISPERMON_PROJECT_DIR``, then upwards from ``start`` (the
    current directory by default), then upwards from this package's source.
    """
    explicit = os.environ.get("WHISPERMON_PROJECT_DIR")
    if explicit:
        path = Path(explicit).expanduser().resolve()
        if (path / "site.yml").is_file():
            return path
        raise WhispermonError(
            "find the whispermon project",
            f"WHISPERMON_PROJECT_DIR={explicit} has no site.yml",
            "point WHISPERMON_PROJECT_DIR at a checkout of the whispermon repository",
        )
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        for candidate in (origin, *origin.parents):
            if (candidate / "site.yml").is_file() and (candidate / "roles").is_dir():
                return candidate
    raise WhispermonError(
        "find the whispermon project",
        "no site.yml in the current directory or its parents",
        "run whispermon from the repository checkout or set WHISPERMON_PROJECT_DIR",
    )


def state_dir() -> Path:
    """Return whispermon's state directory (``$XDG_STATE_HOME/whispermon``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "whispermon"
