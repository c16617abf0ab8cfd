"""What an import found: the spec to write, the state to record, and what to tell the operator."""

from __future__ import annotations

from dataclasses import dataclass

from grid.state.model import State


@dataclass(frozen=True)
class Imported:
    """One import's result, not yet written anywhere (grid.operations.importing.record_import writes it)."""

    spec_text: str  # the spec YAML to write; its comments say what was found and what was guessed
    state: State  # what to record, such that the next `grid plan` of spec_text is empty
    found: tuple[str, ...] = ()  # lines for the operator: what was found / adopted
    problems: tuple[str, ...] = ()  # what was NOT imported and why (unreachable, unpinned host key, ...)

    @property
    def cluster(self) -> str:
        return self.state.cluster
