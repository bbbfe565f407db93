"""Types shared by the CLI tests and their fixtures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CliResult:
    """Exit code and captured output of one ``whispermon`` invocation."""

    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class FixtureProject:
    """A copy of tests/cli/fixtures/project and the folders its runs use."""

    root: Path
    output_dir: Path
    state_dir: Path

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "whispermon" / "runs"
