"""Progress views, the per-host summary and the NO_COLOR rules."""

from __future__ import annotations

import io
from typing import Any

import pytest
from cli_streams import failed, ok, play_start, stats, task_start
from rich.console import Console

from whispermon.events import RunTracker, strip_ansi
from whispermon.output import (
    LiveProgress,
    PlainProgress,
    QuietProgress,
    color_disabled,
    format_duration,
    make_progress,
    print_run_summary,
)


def _console(*, terminal: bool, no_color: bool = False) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, no_color=no_color, width=120)
    return console, buffer


def _feed(view: Any, events: list[dict[str, Any]]) -> RunTracker:
    tracker = RunTracker()
    with view:
        for event in events:
            tracker.handle(event)
            view.update(tracker, event)
    return tracker


EVENTS = [
    play_start("Converge the servers"),
    task_start("Render sshd_config"),
    ok("server-1", "Render sshd_config", changed=True),
    ok("server-2", "Render sshd_config"),
    task_start("Start sshd"),
    failed("server-2", "Start sshd", "sshd -t failed: bad option"),
    stats(ok={"server-1": 2, "server-2": 1}, changed={"server-1": 1}, failures={"server-2": 1}),
]


def test_live_view_on_colour_terminal() -> None:
    console, _ = _console(terminal=True)
    view = make_progress(console, no_color=False, verbose=False)
    assert isinstance(view, LiveProgress)


@pytest.mark.parametrize(("terminal", "no_color"), [(False, False), (True, True)])
def test_plain_lines_without_terminal_or_colour(terminal: bool, no_color: bool) -> None:
    console, _ = _console(terminal=terminal, no_color=no_color)
    view = make_progress(console, no_color=no_color, verbose=False)
    assert isinstance(view, PlainProgress)


def test_json_mode_is_quiet_without_terminal() -> None:
    console, _ = _console(terminal=False)
    view = make_progress(console, no_color=False, verbose=False, quiet_unless_terminal=True)
    assert isinstance(view, QuietProgress)


def test_plain_progress_lines() -> None:
    console, buffer = _console(terminal=False)
    _feed(PlainProgress(console), EVENTS)
    assert buffer.getvalue().splitlines() == [
        "PLAY Converge the servers",
        "TASK Render sshd_config",
        "  changed: server-1",
        "TASK Start sshd",
        "  failed: server-2: sshd -t failed: bad option",
    ]


def test_plain_progress_verbose_shows_ok() -> None:
    console, buffer = _console(terminal=False)
    _feed(PlainProgress(console, verbose=True), EVENTS)
    assert "  ok: server-2" in buffer.getvalue().splitlines()


def test_live_view_prints_failures_above_it() -> None:
    console, buffer = _console(terminal=True, no_color=True)
    _feed(LiveProgress(console), EVENTS)
    text = strip_ansi(buffer.getvalue())
    assert "failed: server-2 | Start sshd: sshd -t failed: bad option" in text


def test_summary_lists_hosts_failures_and_duration() -> None:
    console, buffer = _console(terminal=False)
    tracker = RunTracker()
    for event in EVENTS:
        tracker.handle(event)
    print_run_summary(console, tracker, 75.25)
    lines = buffer.getvalue().splitlines()
    header = next(line for line in lines if "host" in line)
    assert header.split() == ["host", "ok", "changed", "failed", "unreachable", "skipped"]
    assert next(line for line in lines if "server-1" in line).split() == [
        "server-1",
        "2",
        "1",
        "0",
        "0",
        "0",
    ]
    assert next(line for line in lines if line.strip().startswith("server-2 ")).split() == [
        "server-2",
        "1",
        "0",
        "1",
        "0",
        "0",
    ]
    assert "  server-2: Start sshd (failed)" in lines
    assert "    sshd -t failed: bad option" in lines
    assert lines[-1] == "Finished in 1 min 15.2 s."


def test_no_color_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert color_disabled(False) is False
    assert color_disabled(True) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert color_disabled(False) is True
    # no-color.org: an empty NO_COLOR does not count.
    monkeypatch.setenv("NO_COLOR", "")
    assert color_disabled(False) is False


def test_format_duration() -> None:
    assert format_duration(4.24) == "4.2 s"
    assert format_duration(62.3) == "1 min 02.3 s"
