"""The ``whispermon`` command: deploy, drift, doctor and lab.

Errors are WhispermonError everywhere below this module; ``run`` catches them
and prints "Could not <action>: <cause>" and a hint, with a traceback only when
``--debug`` is given. Exit codes are those of ``whispermon.errors.ExitCode``.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from whispermon import __version__, doctor
from whispermon.drift import collect_drift
from whispermon.errors import ExitCode, WhispermonError
from whispermon.events import RunTracker
from whispermon.lab.commands import app as lab_app
from whispermon.output import (
    color_disabled,
    format_duration,
    make_console,
    make_progress,
    print_output_tail,
    print_run_summary,
)
from whispermon.project import find_project_dir
from whispermon.runner import (
    DEFAULT_KEEP_RUNS,
    KEEP_RUNS_ENV,
    Cancellation,
    RunOutcome,
    RunSpec,
    run_playbook,
)

log = logging.getLogger(__name__)

app = typer.Typer(
    name="whispermon",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(lab_app, name="lab")


@dataclass(frozen=True)
class Settings:
    """Options given before the command name."""

    verbose: int
    debug: bool
    no_color: bool
    keep_runs: int


# Set by the global options; read by ``run`` when it reports an error.
_debug_enabled = False


def configure_logging(verbose: int, debug: bool) -> None:
    """Send whispermon's log records to standard error (WARNING, -v INFO, -vv or --debug DEBUG)."""
    level = logging.WARNING
    if debug or verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1:
        level = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("whispermon")
    package_logger.handlers = [handler]
    package_logger.setLevel(level)
    package_logger.propagate = False


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"whispermon {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            help="Log more: -v shows each step and every host result, -vv debug logs.",
        ),
    ] = 0,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Log at debug level and print tracebacks for errors."),
    ] = False,
    no_color: Annotated[
        bool,
        typer.Option(
            "--no-color", help="Print plain lines without colour or live view (as NO_COLOR does)."
        ),
    ] = False,
    keep_runs: Annotated[
        int,
        typer.Option(
            "--keep-runs",
            envvar=KEEP_RUNS_ENV,
            min=1,
            help="Number of run directories (ansible-runner artifacts) to keep.",
        ),
    ] = DEFAULT_KEEP_RUNS,
) -> None:
    """Provision and check remote monitoring for a Whisper transcription pipeline.

    Exit codes: 0 success, 1 failure, 2 drift found, 3 host unreachable,
    64 usage error, 130 interrupted.
    """
    global _debug_enabled
    _debug_enabled = debug
    configure_logging(verbose, debug)
    ctx.obj = Settings(verbose=verbose, debug=debug, no_color=no_color, keep_runs=keep_runs)


InventoryOption = Annotated[
    Path | None,
    typer.Option(
        "-i",
        "--inventory",
        help="Inventory file or directory (default: the one in the project's "
        "ansible.cfg, inventory/lab).",
    ),
]
LimitOption = Annotated[
    str | None,
    typer.Option("-l", "--limit", help="Run only on these hosts or groups (Ansible pattern)."),
]
VaultOption = Annotated[
    Path | None,
    typer.Option(
        "--vault-password-file",
        help="File that contains the vault password; only its path is passed on.",
    ),
]
NoColorOption = Annotated[
    bool,
    typer.Option(
        "--no-color", help="Print plain lines without colour or live view (as NO_COLOR does)."
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print the result as JSON on standard output."),
]


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    if isinstance(settings, Settings):
        return settings
    return Settings(verbose=0, debug=False, no_color=False, keep_runs=DEFAULT_KEEP_RUNS)


def _run(
    spec: RunSpec,
    settings: Settings,
    *,
    no_color: bool,
    keep_results: bool = False,
    json_output: bool = False,
) -> tuple[RunTracker, RunOutcome]:
    """Run ``spec`` with a progress view on standard error and return the folded events."""
    err = make_console(stderr=True, no_color=no_color)
    view = make_progress(
        err, no_color=no_color, verbose=settings.verbose > 0, quiet_unless_terminal=json_output
    )
    tracker = RunTracker(keep_results=keep_results)

    def on_event(event: dict[str, Any]) -> None:
        tracker.handle(event)
        view.update(tracker, event)

    with view:
        outcome = run_playbook(
            spec, on_event, keep_runs=settings.keep_runs, cancellation=Cancellation()
        )
    return tracker, outcome


def _raise_if_not_started(spec: RunSpec, tracker: RunTracker, outcome: RunOutcome) -> None:
    """Raise when ansible-playbook stopped before any play, e.g. on a syntax error."""
    if outcome.canceled or tracker.stats_seen or outcome.rc == 0:
        return
    lines = list(tracker.output_tail)
    errors = [line for line in lines if "ERROR" in line]
    cause = (errors or lines or [f"ansible-playbook exited with code {outcome.rc}"])[-1]
    raise WhispermonError(
        f"run {spec.playbook}",
        cause.strip(),
        f"the whole output is in {outcome.private_data_dir}/artifacts; "
        "run again with -v for more detail",
    )


def _cancelled(console: Console, outcome: RunOutcome) -> typer.Exit:
    console.print(
        "Cancelled: ansible-playbook was stopped, so hosts may be partly changed; "
        f"run the command again to finish. Run directory: {outcome.private_data_dir}",
        markup=False,
    )
    return typer.Exit(ExitCode.INTERRUPTED)


def playbook_exit_code(tracker: RunTracker, outcome: RunOutcome) -> ExitCode:
    """Return 3 if a host was unreachable, 1 if a task or the run failed, else 0."""
    if tracker.any_unreachable:
        return ExitCode.UNREACHABLE
    if tracker.any_failed or outcome.rc != 0 or outcome.status != "successful":
        return ExitCode.FAILED
    return ExitCode.OK


@app.command()
def deploy(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    tags: Annotated[
        str | None,
        typer.Option("-t", "--tags", help="Run only tasks with these tags (comma-separated)."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Report what would change without changing it.")
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show the changes made to files and templates.")
    ] = False,
    vault_password_file: VaultOption = None,
    no_color: NoColorOption = False,
) -> None:
    """Converge every host: run site.yml and summarise the result per host.

    Exit codes: 0 success, 1 a task failed, 3 a host was unreachable,
    130 interrupted.
    """
    settings = _settings(ctx)
    no_color = color_disabled(no_color or settings.no_color)
    spec = RunSpec(
        command="deploy",
        project_dir=find_project_dir(),
        playbook="site.yml",
        inventory=inventory,
        limit=limit,
        tags=tags,
        check=check,
        diff=diff,
        vault_password_file=vault_password_file,
    )
    tracker, outcome = _run(spec, settings, no_color=no_color)
    out = make_console(stderr=False, no_color=no_color)
    err = make_console(stderr=True, no_color=no_color)
    if outcome.canceled:
        print_run_summary(out, tracker, outcome.duration)
        raise _cancelled(err, outcome)
    _raise_if_not_started(spec, tracker, outcome)
    print_run_summary(out, tracker, outcome.duration)
    code = playbook_exit_code(tracker, outcome)
    if code != ExitCode.OK and not tracker.failures:
        print_output_tail(err, tracker)
    raise typer.Exit(code)


def _print_drift(console: Console, report_json: dict[str, Any]) -> None:
    for host in report_json["hosts"]:
        if host["status"] == "clean":
            continue
        console.print(Text(f"{host['name']} ({host['status']})", style="bold"))
        for change in host["changes"]:
            where = f"[{change['role']}] " if change["role"] else ""
            kind = " (handler)" if change["handler"] else ""
            items = f" items: {', '.join(change['items'])}" if change["items"] else ""
            console.print(f"  would change: {where}{change['task']}{kind}{items}", markup=False)
            for line in change["diff"].splitlines():
                style = ""
                if line.startswith("+"):
                    style = "green"
                elif line.startswith("-"):
                    style = "red"
                console.print(Text("      " + line, style=style))
        for failure in host["failures"]:
            label = "unreachable" if failure["unreachable"] else "failed"
            console.print(f"  {label}: {failure['task']}: {failure['message']}", markup=False)
    summary = report_json["summary"]
    if report_json["result"] == "clean":
        console.print(f"No drift on {summary['hosts']} host(s).", markup=False)
    else:
        console.print(
            f"{summary['changes']} task(s) would change on {summary['hosts_with_drift']} of "
            f"{summary['hosts']} host(s); {summary['failed_hosts']} failed, "
            f"{summary['unreachable_hosts']} unreachable.",
            markup=False,
        )
    console.print(f"Finished in {format_duration(report_json['duration_seconds'])}.", markup=False)


@app.command()
def drift(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    json_output: JsonOption = False,
    vault_password_file: VaultOption = None,
    no_color: NoColorOption = False,
) -> None:
    """List every task that would change a host: site.yml in check mode with diff.

    Exit codes: 0 no drift, 1 a task failed, 2 drift found, 3 a host was
    unreachable, 130 interrupted.
    """
    settings = _settings(ctx)
    no_color = color_disabled(no_color or settings.no_color)
    spec = RunSpec(
        command="drift",
        project_dir=find_project_dir(),
        playbook="site.yml",
        inventory=inventory,
        limit=limit,
        check=True,
        diff=True,
        vault_password_file=vault_password_file,
    )
    tracker, outcome = _run(spec, settings, no_color=no_color, json_output=json_output)
    err = make_console(stderr=True, no_color=no_color)
    if outcome.canceled:
        raise _cancelled(err, outcome)
    _raise_if_not_started(spec, tracker, outcome)
    report = collect_drift(
        tracker,
        run_failed=outcome.rc != 0
        and not (tracker.any_failed or tracker.any_unreachable)
        and outcome.status != "successful",
        duration=outcome.duration,
        run_dir=str(outcome.private_data_dir),
    )
    data = report.to_json()
    if json_output:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_drift(make_console(stderr=False, no_color=no_color), data)
    raise typer.Exit(report.exit_code)


_STATUS_LABEL = {
    doctor.PASSED: ("PASS", "green"),
    doctor.FAILED: ("FAIL", "bold red"),
    doctor.SKIPPED: ("SKIP", "cyan"),
}


def _print_checks(console: Console, checks: list[doctor.Check], code: ExitCode) -> None:
    # One line per check, so that no detail is cut to fit a table column.
    for check in checks:
        label, style = _STATUS_LABEL[check.status]
        console.print(
            Text.assemble((label, style), f"  {check.name} ({check.host}): {check.detail}")
        )
    failing = [check for check in checks if check.status == doctor.FAILED]
    if failing:
        console.print(Text("To fix:", style="bold"))
        for check in failing:
            console.print(f"  {check.name} ({check.host}): {check.fix}", markup=False)
    passed = sum(1 for check in checks if check.status == doctor.PASSED)
    console.print(
        f"{passed} passed, {len(failing)} failed, {len(checks) - passed - len(failing)} skipped.",
        markup=False,
    )
    if code == ExitCode.OK:
        console.print("All checks passed.", markup=False)


@app.command(name="doctor")
def doctor_command(
    ctx: typer.Context,
    inventory: InventoryOption = None,
    limit: LimitOption = None,
    json_output: JsonOption = False,
    vault_password_file: VaultOption = None,
    no_color: NoColorOption = False,
) -> None:
    """Check the running system: tunnels, forwarded ports, Prometheus, Flower events, Grafana.

    Changes nothing. Each failed check prints its fix. Exit codes: 0 every
    check passed, 1 a check failed, 3 a host was unreachable, 130 interrupted.
    """
    settings = _settings(ctx)
    no_color = color_disabled(no_color or settings.no_color)
    spec = RunSpec(
        command="doctor",
        project_dir=find_project_dir(),
        playbook=doctor.PLAYBOOK,
        inventory=inventory,
        limit=limit,
        vault_password_file=vault_password_file,
    )
    tracker, outcome = _run(
        spec, settings, no_color=no_color, keep_results=True, json_output=json_output
    )
    err = make_console(stderr=True, no_color=no_color)
    if outcome.canceled:
        raise _cancelled(err, outcome)
    _raise_if_not_started(spec, tracker, outcome)
    checks = doctor.collect_checks(tracker)
    code = doctor.exit_code(checks, run_failed=not tracker.stats_seen)
    if json_output:
        typer.echo(json.dumps(doctor.to_json(checks, code), indent=2))
    else:
        _print_checks(make_console(stderr=False, no_color=no_color), checks, code)
    raise typer.Exit(code)


def _report_error(error: WhispermonError) -> None:
    if _debug_enabled:
        traceback.print_exception(error, file=sys.stderr)
    print(str(error), file=sys.stderr)
    if error.hint:
        print(f"Hint: {error.hint}", file=sys.stderr)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    global _debug_enabled
    _debug_enabled = False
    command = typer.main.get_command(app)
    try:
        result = command.main(
            args=list(argv) if argv is not None else None,
            prog_name="whispermon",
            standalone_mode=False,
        )
    except WhispermonError as error:
        _report_error(error)
        return int(error.exit_code)
    except typer.Abort:
        print("Interrupted.", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except typer.TyperException as error:
        # Usage errors (unknown option, bad value). Their own exit code, 2,
        # would read as "drift found".
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            print(f"Error: {error.format_message()}", file=sys.stderr)
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    if isinstance(result, int):
        return result
    return int(ExitCode.OK)


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
