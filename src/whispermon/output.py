"""Terminal output: the live progress view, plain progress lines and run summaries.

Progress goes to standard error so that standard output carries only results
(the summary, or JSON with ``--json``). The live view needs a terminal with
colour; otherwise progress is printed as plain lines.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Protocol, Self

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from whispermon.events import HostCounts, RunTracker

_STATUS_STYLE = {
    "ok": "green",
    "changed": "yellow",
    "failed": "bold red",
    "unreachable": "bold red",
    "skipped": "cyan",
    "ignored": "magenta",
}
_COUNT_COLUMNS = ("ok", "changed", "failed", "unreachable", "skipped")


def color_disabled(no_color_option: bool) -> bool:
    """Return whether colour is off: ``--no-color`` or a non-empty ``NO_COLOR`` (no-color.org)."""
    return no_color_option or bool(os.environ.get("NO_COLOR"))


def make_console(*, stderr: bool, no_color: bool) -> Console:
    """Create a console for standard output or standard error.

    With ``no_color`` the console writes no escape codes at all, bold included.
    """
    return Console(
        stderr=stderr,
        no_color=no_color,
        color_system=None if no_color else "auto",
        highlight=False,
        soft_wrap=True,
    )


class ProgressView(Protocol):
    """Shows a run's progress while events arrive."""

    def __enter__(self) -> ProgressView: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def update(self, tracker: RunTracker, event: dict[str, Any]) -> None:
        """Show the state after ``event`` was folded into ``tracker``."""

    def notice(self, message: str) -> None:
        """Print a message between progress lines."""


class QuietProgress:
    """Shows nothing (used with ``--json`` when standard error is not a terminal)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def update(self, tracker: RunTracker, event: dict[str, Any]) -> None:
        return None

    def notice(self, message: str) -> None:
        return None


class PlainProgress(QuietProgress):
    """Prints one line per play, task and notable host result."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self._console = console
        self._verbose = verbose

    def _line(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False)

    def update(self, tracker: RunTracker, event: dict[str, Any]) -> None:
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self._line(f"PLAY {tracker.play}")
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            prefix = "HANDLER" if kind == "playbook_on_handler_task_start" else "TASK"
            self._line(f"{prefix} {tracker.task}")
        elif kind in (
            "runner_on_ok",
            "runner_on_failed",
            "runner_on_unreachable",
            "runner_on_skipped",
        ):
            host = str(data.get("host") or "?")
            status = tracker.hosts[host].last_status if host in tracker.hosts else "?"
            if status in ("failed", "unreachable"):
                failure = tracker.failures[-1] if tracker.failures else None
                message = f": {failure.message}" if failure and failure.host == host else ""
                self._line(f"  {status}: {host}{message}")
            elif status == "changed" or self._verbose:
                self._line(f"  {status}: {host}")

    def notice(self, message: str) -> None:
        self._line(message)


class LiveProgress:
    """A live view: current play and task, and a row of counts per host."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live = Live(
            Text("Starting ansible-playbook ..."),
            console=console,
            transient=True,
            refresh_per_second=4,
        )
        self._failures_shown = 0

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, traceback)

    def update(self, tracker: RunTracker, event: dict[str, Any]) -> None:
        # Failures are printed above the live view as they happen, so they
        # stay on screen after the view is gone.
        for failure in tracker.failures[self._failures_shown :]:
            label = "unreachable" if failure.unreachable else "failed"
            self._live.console.print(
                Text.assemble(
                    (f"{label}: ", "bold red"),
                    f"{failure.host} | {failure.task}: ",
                    failure.message,
                )
            )
        self._failures_shown = len(tracker.failures)
        self._live.update(self._render(tracker), refresh=False)

    def notice(self, message: str) -> None:
        self._live.console.print(message, markup=False)

    @staticmethod
    def _render(tracker: RunTracker) -> RenderableType:
        table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
        _add_count_columns(table)
        table.add_column("last task")
        for name in sorted(tracker.hosts):
            counts = tracker.hosts[name]
            style = _STATUS_STYLE.get(counts.last_status, "")
            table.add_row(
                *_count_cells(name, counts),
                Text(f"{counts.last_status} {counts.last_task}".strip(), style=style),
            )
        return Group(
            Text.assemble(("Play: ", "bold"), tracker.play or "-"),
            Text.assemble(("Task: ", "bold"), tracker.task or "-"),
            table,
        )


def make_progress(
    console: Console, *, no_color: bool, verbose: bool, quiet_unless_terminal: bool = False
) -> ProgressView:
    """Choose the live view on a colour terminal, plain lines otherwise."""
    if console.is_terminal and not no_color:
        return LiveProgress(console)
    if quiet_unless_terminal:
        return QuietProgress()
    return PlainProgress(console, verbose=verbose)


def host_table(tracker: RunTracker) -> Table:
    """Return the per-host recap table (ok, changed, failed, unreachable, skipped)."""
    table = Table(box=box.SIMPLE_HEAD, title=None)
    _add_count_columns(table)
    for name in sorted(tracker.hosts):
        counts = tracker.hosts[name]
        row_style = "red" if counts.failed or counts.unreachable else ""
        table.add_row(*_count_cells(name, counts), style=row_style)
    return table


def _add_count_columns(table: Table) -> None:
    table.add_column("host")
    for column in _COUNT_COLUMNS:
        table.add_column(column, justify="right")


def _count_cells(name: str, counts: HostCounts) -> list[str]:
    return [name, *(str(getattr(counts, column)) for column in _COUNT_COLUMNS)]


def format_duration(seconds: float) -> str:
    """Format a duration as ``1 min 02.3 s`` or ``4.2 s``."""
    minutes, rest = divmod(seconds, 60)
    if minutes:
        return f"{int(minutes)} min {rest:04.1f} s"
    return f"{rest:.1f} s"


def print_run_summary(console: Console, tracker: RunTracker, duration: float) -> None:
    """Print the host table, the failed tasks with their messages, and the duration."""
    if tracker.hosts:
        console.print(host_table(tracker))
    else:
        console.print("No host results (no host matched, or the run stopped before any task).")
    if tracker.failures:
        console.print(Text("Failed tasks:", style="bold red"))
        for failure in tracker.failures:
            label = "unreachable" if failure.unreachable else "failed"
            console.print(
                Text.assemble(f"  {failure.host}: {failure.task} ({label})\n    ", failure.message)
            )
    console.print(f"Finished in {format_duration(duration)}.", markup=False)


def print_output_tail(console: Console, tracker: RunTracker, limit: int = 10) -> None:
    """Print the last lines ansible-playbook wrote outside task results (its errors)."""
    lines = list(tracker.output_tail)[-limit:]
    if lines:
        console.print("ansible-playbook output:", markup=False)
        for line in lines:
            console.print(f"  {line}", markup=False)
