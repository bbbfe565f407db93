"""The one exception type whispermon raises, and the exit codes it maps to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the whispermon command (documented in the README)."""

    OK = 0
    FAILED = 1
    DRIFT = 2
    UNREACHABLE = 3
    USAGE = 64
    INTERRUPTED = 130


class WhispermonError(Exception):
    """An error the CLI reports as one line plus a hint, without a traceback.

    ``action`` completes "Could not ...", ``cause`` describes what went wrong and
    ``hint`` what to do about it.
    """

    def __init__(
        self,
        action: str,
        cause: str,
        hint: str = "",
        exit_code: ExitCode = ExitCode.FAILED,
    ) -> None:
        super().__init__(f"Could not {action}: {cause}")
        self.action = action
        self.cause = cause
        self.hint = hint
        self.exit_code = exit_code
