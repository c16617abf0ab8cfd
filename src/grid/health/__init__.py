"""Accelerator and node health: what the vendors' tools print, parsed (pure), judged against thresholds per
catalog model family, and the suites (`quick`, `full`) of commands a runner executes on a node over SSH.

Nothing here runs a command: the runner (not part of this package) executes each `Probe` of a suite and hands its
output to `judge_probe`, which returns one `CheckResult` per node, check and device. docs/health.md says which
format each parser reads and how it was checked.
"""
