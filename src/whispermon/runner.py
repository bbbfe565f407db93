"""Run whispermon's playbooks through ansible-runner.

This is the only module that imports ``ansible_runner``. Each run gets its own
private data directory under ``state_dir()/runs``; older run directories are
pruned. Secrets never go into extravars, env files or the recorded environment:
vault passwords are passed as a file path on the command line.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from whispermon.errors import ExitCode, WhispermonError
from whispermon.project import state_dir

log = logging.getLogger(__name__)

DEFAULT_KEEP_RUNS = 20
KEEP_RUNS_ENV = "WHISPERMON_KEEP_RUNS"

# Interval, in seconds, at which ansible-runner polls the cancel callback.
# Its own default is 5 s, which makes Ctrl-C feel ignored.
_POLL_SECONDS = 1

# Variables that ansible-runner itself adds to the child's environment. They are
# kept in the recorded "command" artifact, with whispermon's own variables; every
# other inherited variable is recorded by name only.
_RUNNER_ENV_KEYS = frozenset(
    {
        "ANSIBLE_STDOUT_CALLBACK",
        "ORIGINAL_STDOUT_CALLBACK",
        "ANSIBLE_CALLBACK_PLUGINS",
        "ANSIBLE_RETRY_FILES_ENABLED",
        "ANSIBLE_HOST_KEY_CHECKING",
        "AWX_ISOLATED_DATA_DIR",
        "RUNNER_OMIT_EVENTS",
        "RUNNER_ONLY_FAILED_EVENTS",
    }
)
NOT_RECORDED = "<inherited, not recorded>"

EventHandler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class RunSpec:
    """A playbook of the project to run, and the ansible-playbook options for it."""

    command: str
    project_dir: Path
    playbook: str
    inventory: Path | None = None
    limit: str | None = None
    tags: str | None = None
    check: bool = False
    diff: bool = False
    vault_password_file: Path | None = None


@dataclass(frozen=True)
class RunOutcome:
    """The end state of a run, as ansible-runner reports it."""

    status: str
    rc: int
    private_data_dir: Path
    duration: float
    canceled: bool


def find_ansible_playbook() -> Path:
    """Return the ansible-playbook of the Python environment whispermon runs in."""
    # Not resolved: a venv's python is a symlink to the base interpreter, and
    # the venv's bin/ is the directory that contains ansible-playbook.
    bin_dir = Path(sys.executable).parent
    candidate = bin_dir / ("ansible-playbook.exe" if os.name == "nt" else "ansible-playbook")
    if not candidate.is_file() or not os.access(candidate, os.X_OK):
        raise WhispermonError(
            "find ansible-playbook",
            f"{candidate} does not exist or is not executable",
            f"install whispermon with its dependencies into that environment "
            f"('{bin_dir / 'pip'} install whispermon' or 'pip install -e .' in the checkout)",
        )
    return candidate


def runs_root() -> Path:
    """Return the directory that contains one private data directory per run."""
    return state_dir() / "runs"


def create_private_data_dir(command: str, root: Path | None = None) -> Path:
    """Create and return a new, empty run directory named ``<UTC timestamp>-<command>``."""
    root = root or runs_root()
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        for attempt in range(100):
            suffix = f"-{attempt}" if attempt else ""
            path = root / f"{stamp}{suffix}-{command}"
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                continue
            return path
    except OSError as error:
        raise WhispermonError(
            "create the run directory",
            f"{root}: {error.strerror or error}",
            "check that the state directory is writable or set XDG_STATE_HOME",
        ) from error
    raise WhispermonError(
        "create the run directory",
        f"100 directories named {stamp}-* already exist in {root}",
        "remove old run directories",
    )


def prune_runs(keep: int, root: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` run directories and return the deleted ones."""
    root = root or runs_root()
    if not root.is_dir():
        return []
    # Names start with a UTC timestamp, so name order is age order.
    runs = sorted(path for path in root.iterdir() if path.is_dir() and not path.is_symlink())
    removed = runs[: max(len(runs) - keep, 0)]
    for path in removed:
        log.debug("removing old run directory %s", path)
        shutil.rmtree(path, ignore_errors=True)
    return removed


def build_envvars(project_dir: Path, ansible_playbook: Path) -> dict[str, str]:
    """Return the variables whispermon sets for the ansible-playbook child process."""
    envvars = {
        "PATH": os.pathsep.join(
            part for part in (str(ansible_playbook.parent), os.environ.get("PATH", "")) if part
        ),
        # ansible-runner turns host key checking off unless the variable is set.
        "ANSIBLE_HOST_KEY_CHECKING": os.environ.get("ANSIBLE_HOST_KEY_CHECKING", "True"),
    }
    config = project_dir / "ansible.cfg"
    if config.is_file():
        envvars["ANSIBLE_CONFIG"] = str(config)
    if sys.platform == "darwin":
        # Forks that load macOS frameworks (pywinrm's TLS stack) crash after
        # fork() unless the Objective-C runtime's fork check is off.
        envvars["OBJC_DISABLE_INITIALIZE_FORK_SAFETY"] = "YES"
    return envvars


def build_cmdline(spec: RunSpec) -> str:
    """Return the ansible-playbook options that ansible-runner has no keyword for."""
    args: list[str] = []
    if spec.check:
        args.append("--check")
    if spec.diff:
        args.append("--diff")
    if spec.vault_password_file is not None:
        args += ["--vault-password-file", str(spec.vault_password_file)]
    return shlex.join(args)


def _check_paths(spec: RunSpec) -> tuple[Path | None, Path | None]:
    playbook = spec.project_dir / spec.playbook
    if not playbook.is_file():
        raise WhispermonError(
            f"run {spec.playbook}",
            f"{playbook} does not exist",
            "run whispermon from a complete checkout or set WHISPERMON_PROJECT_DIR",
        )
    inventory = None
    if spec.inventory is not None:
        inventory = spec.inventory.expanduser().resolve()
        if not inventory.exists():
            raise WhispermonError(
                "read the inventory",
                f"{spec.inventory} does not exist",
                "pass an inventory file or directory with -i, e.g. -i inventory/lab",
                ExitCode.USAGE,
            )
    vault = None
    if spec.vault_password_file is not None:
        vault = spec.vault_password_file.expanduser().resolve()
        if not vault.is_file():
            raise WhispermonError(
                "read the vault password file",
                f"{spec.vault_password_file} does not exist or is not a file",
                "pass the path of a file that contains the vault password",
                ExitCode.USAGE,
            )
    return inventory, vault


class Cancellation:
    """Stop a run on SIGINT/SIGTERM the way Ctrl-C stops ansible-playbook in a terminal.

    ansible-runner polls the instance (its ``cancel_callback``). On the first
    poll after a signal, SIGINT goes to ansible-playbook, which passes it on to
    its workers. Each worker runs in its own session (ansible-core 2.21) and
    kills its own process group, module commands included. Only if ansible-playbook is still running
    after ``grace_seconds`` does the callback return True, and ansible-runner
    then kills ansible-playbook's process group with SIGKILL.
    """

    def __init__(self, grace_seconds: float = 15.0) -> None:
        self._requested = threading.Event()
        self._grace_seconds = grace_seconds
        self._playbook_pid: int | None = None
        self._interrupted_at: float | None = None

    @property
    def requested(self) -> bool:
        """Whether a signal (or ``request``) asked the run to stop."""
        return self._requested.is_set()

    def observe(self, event: Mapping[str, Any]) -> None:
        """Remember the pid of ansible-playbook, which every event carries."""
        pid = event.get("pid")
        if isinstance(pid, int) and pid > 0:
            self._playbook_pid = pid

    def request(self) -> None:
        """Ask for the run to stop (what Ctrl-C does)."""
        self._requested.set()

    def __call__(self) -> bool:
        if not self._requested.is_set():
            return False
        if self._playbook_pid is None:
            return True
        if self._interrupted_at is None:
            self._interrupted_at = time.monotonic()
            log.info("sending SIGINT to ansible-playbook (pid %d)", self._playbook_pid)
            try:
                os.kill(self._playbook_pid, signal.SIGINT)
            except ProcessLookupError:
                return True
            return False
        return time.monotonic() - self._interrupted_at > self._grace_seconds

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.request()

    @contextmanager
    def installed(self) -> Iterator[Cancellation]:
        """Install the handlers for the duration of the block (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _scrub_command_artifact(private_data_dir: Path, keep: Mapping[str, str]) -> None:
    """Rewrite each run's ``command`` artifact so that it records only known variables.

    ansible-runner stores the child's whole environment there, which includes
    whatever the user's shell exports (tokens, passwords).
    """
    for command_file in private_data_dir.glob("artifacts/*/command"):
        try:
            data = json.loads(command_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            log.warning("could not read %s to scrub it: %s; deleting it", command_file, error)
            command_file.unlink(missing_ok=True)
            continue
        env = data.get("env") or {}
        data["env"] = {
            name: (value if name in keep or name in _RUNNER_ENV_KEYS else NOT_RECORDED)
            for name, value in env.items()
        }
        command_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        command_file.chmod(0o600)


def run_playbook(
    spec: RunSpec,
    on_event: EventHandler,
    *,
    keep_runs: int = DEFAULT_KEEP_RUNS,
    cancellation: Cancellation | None = None,
    runs_dir: Path | None = None,
) -> RunOutcome:
    """Run ``spec`` to completion, passing every event to ``on_event``.

    Raises WhispermonError when ansible-playbook is missing, an input path does
    not exist, or ansible-runner returns no status or return code.
    """
    ansible_playbook = find_ansible_playbook()
    inventory, vault = _check_paths(spec)
    if vault is not None:
        spec = replace(spec, vault_password_file=vault)

    # Imported here so that commands which never run a playbook (--help,
    # --version, lab) do not pay for ansible-runner's import.
    import ansible_runner

    private_data_dir = create_private_data_dir(spec.command, runs_dir)
    prune_runs(keep_runs, runs_dir or private_data_dir.parent)
    # ansible-runner reads its settings only from this file, which contains no secret.
    (private_data_dir / "env").mkdir(mode=0o700)
    (private_data_dir / "env" / "settings").write_text(
        json.dumps({"pexpect_timeout": _POLL_SECONDS}), encoding="utf-8"
    )

    envvars = build_envvars(spec.project_dir, ansible_playbook)
    cancellation = cancellation or Cancellation()
    log.info(
        "running %s in %s (run directory %s)", spec.playbook, spec.project_dir, private_data_dir
    )

    def handle_event(event: dict[str, Any]) -> bool:
        cancellation.observe(event)
        on_event(event)
        return True

    started = time.monotonic()
    try:
        with cancellation.installed():
            runner = ansible_runner.run(
                private_data_dir=str(private_data_dir),
                project_dir=str(spec.project_dir),
                playbook=str(spec.project_dir / spec.playbook),
                inventory=str(inventory) if inventory is not None else None,
                limit=spec.limit or None,
                tags=spec.tags or None,
                cmdline=build_cmdline(spec) or None,
                envvars=envvars,
                suppress_env_files=True,
                # The jsonfile fact cache would copy every host's facts into
                # the run directory; the project's ansible.cfg caches in memory.
                fact_cache_type="memory",
                quiet=True,
                event_handler=handle_event,
                cancel_callback=cancellation,
            )
    finally:
        _scrub_command_artifact(private_data_dir, envvars)
    duration = time.monotonic() - started

    status = getattr(runner, "status", None)
    rc = getattr(runner, "rc", None)
    if not status or status == "unstarted" or rc is None:
        raise WhispermonError(
            f"run {spec.playbook}",
            f"ansible-runner returned no result (status {status!r}, return code {rc!r})",
            f"look at the run's output in {private_data_dir}/artifacts",
        )
    log.info("ansible-runner finished with status %s, return code %s", status, rc)
    return RunOutcome(
        status=str(status),
        rc=int(rc),
        private_data_dir=private_data_dir,
        duration=duration,
        canceled=cancellation.requested or status == "canceled",
    )
