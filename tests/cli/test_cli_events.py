"""Event stream to progress state and per-host summary."""

from __future__ import annotations

from typing import Any

from cli_streams import failed, ok, play_start, skipped, stats, task_start, unreachable, verbose

from whispermon.events import RunTracker, failure_message, strip_ansi


def _fold(events: list[dict[str, Any]]) -> RunTracker:
    tracker = RunTracker()
    for event in events:
        tracker.handle(event)
    return tracker


def test_tracker_follows_play_and_task() -> None:
    tracker = RunTracker()
    tracker.handle(play_start("Harden sshd"))
    assert tracker.play == "Harden sshd"
    tracker.handle(task_start("Render sshd_config"))
    assert tracker.task == "Render sshd_config"
    assert tracker.in_handlers is False
    tracker.handle(task_start("Restart sshd", handler=True))
    assert tracker.task == "Restart sshd"
    assert tracker.in_handlers is True


def test_tracker_counts_like_ansible_recap() -> None:
    tracker = _fold(
        [
            play_start(),
            task_start("Write config"),
            ok("server-1", "Write config", changed=True),
            ok("server-2", "Write config"),
            task_start("Optional step"),
            skipped("server-1", "Optional step"),
            task_start("Probe"),
            failed("server-2", "Probe", "exit 1", ignore_errors=True),
        ]
    )
    one = tracker.hosts["server-1"]
    two = tracker.hosts["server-2"]
    assert (one.ok, one.changed, one.skipped, one.failed) == (1, 1, 1, 0)
    # An ignored failure counts as ok and ignored, like ansible-playbook's recap.
    assert (two.ok, two.changed, two.failed, two.ignored) == (2, 0, 0, 1)
    assert tracker.failures == []
    assert one.last_status == "skipped"
    assert one.last_task == "Optional step"


def test_tracker_records_failures_with_messages() -> None:
    tracker = _fold(
        [
            task_start("Start exporter"),
            failed("server-1", "Start exporter", "Unable to start service postgres_exporter"),
            unreachable("server-2", "Gathering Facts", "ssh: connect to host port 22: refused"),
        ]
    )
    assert [(f.host, f.task, f.unreachable) for f in tracker.failures] == [
        ("server-1", "Start exporter", False),
        ("server-2", "Gathering Facts", True),
    ]
    assert tracker.failures[0].message == "Unable to start service postgres_exporter"
    assert "refused" in tracker.failures[1].message
    assert tracker.any_failed
    assert tracker.any_unreachable


def test_stats_replace_live_counts() -> None:
    tracker = _fold(
        [
            ok("server-1", "A", changed=True),
            stats(
                ok={"server-1": 7, "server-2": 3},
                changed={"server-1": 2},
                dark={"server-2": 1},
                skipped={"server-1": 4},
            ),
        ]
    )
    assert tracker.stats_seen
    assert tracker.hosts["server-1"].ok == 7
    assert tracker.hosts["server-1"].changed == 2
    assert tracker.hosts["server-1"].skipped == 4
    assert tracker.hosts["server-2"].unreachable == 1


def test_rescued_failure_is_dropped_at_stats() -> None:
    tracker = _fold(
        [
            failed("server-1", "Try the fast path", "not supported"),
            stats(ok={"server-1": 2}, rescued={"server-1": 1}),
        ]
    )
    assert tracker.failures == []
    assert not tracker.any_failed


def test_changes_keep_role_handler_and_diff() -> None:
    diff = [{"before": "a\n", "after": "b\n", "before_header": "/etc/x"}]
    tracker = _fold(
        [
            task_start("Render config"),
            ok(
                "server-1",
                "Render config",
                changed=True,
                diff=diff,
                role="openssh_server",
                action="ansible.builtin.template",
            ),
            task_start("Restart sshd", handler=True),
            ok("server-1", "Restart sshd", changed=True, action="ansible.builtin.service"),
        ]
    )
    first, second = tracker.changes
    assert first.role == "openssh_server"
    assert first.action == "ansible.builtin.template"
    assert first.diffs == tuple(diff)
    assert first.handler is False
    assert second.handler is True


def test_loop_changes_name_changed_items() -> None:
    res = {
        "changed": True,
        "results": [
            {
                "changed": True,
                "item": "a",
                "_ansible_item_label": "a",
                "diff": {"before": {"state": "absent"}, "after": {"state": "file"}},
            },
            {"changed": False, "item": "b", "_ansible_item_label": "b"},
        ],
    }
    tracker = _fold(
        [{"event": "runner_on_ok", "event_data": {"host": "h", "task": "Touch", "res": res}}]
    )
    (change,) = tracker.changes
    assert change.items == ("a",)
    assert change.diffs == ({"before": {"state": "absent"}, "after": {"state": "file"}},)


def test_results_kept_only_on_request() -> None:
    events = [ok("h", "Probe"), ok("h", "Probe 2")]
    assert _fold(events).results == []
    tracker = RunTracker(keep_results=True)
    for event in events:
        tracker.handle(event)
    assert [r.task for r in tracker.results] == ["Probe", "Probe 2"]


def test_output_tail_strips_colour() -> None:
    tracker = _fold([verbose("\x1b[0;31m[ERROR]: the playbook could not be found\x1b[0m\r\n")])
    assert list(tracker.output_tail) == ["[ERROR]: the playbook could not be found"]


def test_failure_message_sources() -> None:
    assert failure_message({"msg": "non-zero return code", "stderr": "line 1\nboom"}) == (
        "non-zero return code | boom"
    )
    assert failure_message({"stdout": "only stdout"}) == "only stdout"
    looped = {"results": [{"failed": True, "item": "x", "msg": "bad x"}, {"item": "y"}]}
    assert failure_message(looped) == "x: bad x"
    assert "no message" in failure_message({})
    assert len(failure_message({"msg": "x" * 2000})) == 500
    assert strip_ansi("\x1b[1;35mhi\x1b[0m") == "hi"


def test_censored_result_takes_changed_from_output() -> None:
    censored = {
        "censored": "the output has been hidden due to the fact that 'no_log: true' "
        "was specified for this result"
    }
    tracker = _fold(
        [
            {
                "event": "runner_on_ok",
                "stdout": "\x1b[0;33mchanged: [server-1]\x1b[0m",
                "event_data": {"host": "server-1", "task": "Write the DSN", "res": censored},
            },
            {
                "event": "runner_on_ok",
                "stdout": "\x1b[0;32mok: [server-2]\x1b[0m",
                "event_data": {"host": "server-2", "task": "Write the DSN", "res": censored},
            },
        ]
    )
    assert [change.host for change in tracker.changes] == ["server-1"]
    assert tracker.changes[0].diffs == ()
    assert tracker.hosts["server-2"].changed == 0
