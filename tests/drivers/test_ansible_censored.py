"""A no_log task's change reaches grid: its result is censored (no `changed` key), its display line is not.
The munge key task is no_log, and a key replaced by hand must be drift like any other file."""

from __future__ import annotations

from grid.drivers.ansible_results import Collector

CENSORED = {"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"}


def _event(res: dict[str, object], stdout: str) -> dict[str, object]:
    return {"event": "runner_on_ok", "stdout": stdout,
            "event_data": {"host": "n0", "task": "Munge key", "role": "slurm", "res": res}}


def test_a_censored_change_is_a_changed_task() -> None:
    collector = Collector(check=True, on_event=None)
    collector.handle(_event(CENSORED, "changed: [n0]"))
    collector.handle({"event": "runner_on_ok", "stdout": "ok: [n0]",
                      "event_data": {"host": "n0", "task": "Munged running", "role": "slurm", "res": CENSORED}})
    assert collector.hosts["n0"].changed_tasks == ["slurm : Munge key"]


def test_an_uncensored_result_is_read_as_before() -> None:
    collector = Collector(check=True, on_event=None)
    collector.handle(_event({"changed": False}, "changed: [n0]"))  # the result decides, not the text
    assert collector.hosts["n0"].changed_tasks == []


def test_a_failed_command_is_told_in_its_own_words() -> None:
    from grid.drivers.ansible_results import _message

    assert _message({"msg": "non-zero return code", "rc": 1, "stderr": "grid-daemon: slurmd did not start\n",
                     "stdout": ""}) == "grid-daemon: slurmd did not start"
    # the script module over SSH: stderr merged into stdout, SSH's closing line in stderr
    assert _message({"msg": "non-zero return code", "rc": 1, "stderr": "Shared connection to 10.0.0.2 closed.\r\n",
                     "stdout": "resumed n2\r\ngrid-slurm-nodes: n1 DRAIN in Slurm stays out\r\n"}) == \
        "resumed n2\ngrid-slurm-nodes: n1 DRAIN in Slurm stays out"
    assert _message({"msg": "non-zero return code", "rc": 1, "stderr": "", "stdout": ""}) == "non-zero return code"
    assert _message({"msg": "Destination not writable", "stderr": "x"}) == "Destination not writable"
