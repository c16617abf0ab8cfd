"""What policy packs said about a plan: findings, the packs that ran, and the digest of their files.

Plain values with no dependency on the plan code, so a `Plan` can carry its report and a saved plan document
can hold it (`policy` key of grid-plan/v1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FindingLevel = Literal["mandatory", "advisory", "error"]
"""`mandatory`/`advisory`: the level of the policy that reported it; `error`: the policy could not say (it
crashed, timed out, or could not be loaded)."""


@dataclass(frozen=True, slots=True)
class PolicyFinding:
    pack: str
    policy: str
    level: FindingLevel
    message: str
    address: str = ""  # what it is about (a region, a node address), when the policy said
    blocking: bool = False  # a mandatory violation, or an error of a policy that is not advisory

    def line(self) -> str:
        where = f"{self.address}: " if self.address else ""
        return f"{self.pack}/{self.policy}: {where}{self.message}"

    def to_document(self) -> dict[str, Any]:
        return {"pack": self.pack, "policy": self.policy, "level": self.level, "message": self.message,
                "address": self.address, "blocking": self.blocking}

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> PolicyFinding:
        level = str(raw.get("level", "error"))
        return cls(str(raw.get("pack", "")), str(raw.get("policy", "")),
                   level if level in ("mandatory", "advisory") else "error",  # type: ignore[arg-type]
                   str(raw.get("message", "")), str(raw.get("address") or ""), bool(raw.get("blocking")))


@dataclass(frozen=True, slots=True)
class PackRun:
    """One pack as it ran: where its files are, their digest, and the policies it holds."""

    name: str
    path: str  # absolute: `grid apply PLAN` digests the files there again
    digest: str
    policies: tuple[str, ...] = ()

    def to_document(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "digest": self.digest, "policies": list(self.policies)}

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> PackRun:
        return cls(str(raw.get("name", "")), str(raw.get("path", "")), str(raw.get("digest", "")),
                   tuple(str(p) for p in raw.get("policies") or ()))


@dataclass(frozen=True)
class PolicyReport:
    packs: tuple[PackRun, ...]
    findings: tuple[PolicyFinding, ...]
    digest: str  # of every pack's files (names and bytes), in pack order

    @property
    def blocking(self) -> tuple[PolicyFinding, ...]:
        """What makes `grid plan` fail and `grid up` / `grid apply` refuse."""
        return tuple(f for f in self.findings if f.blocking)

    @property
    def passed(self) -> bool:
        return not self.blocking

    def counts(self) -> dict[str, int]:
        return {level: sum(1 for f in self.findings if f.level == level)
                for level in ("mandatory", "advisory", "error")}

    def to_document(self) -> dict[str, Any]:
        return {"passed": self.passed, "digest": self.digest, "counts": self.counts(),
                "packs": [p.to_document() for p in self.packs],
                "findings": [f.to_document() for f in self.findings]}

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> PolicyReport:
        return cls(tuple(PackRun.from_document(p) for p in raw.get("packs") or ()),
                   tuple(PolicyFinding.from_document(f) for f in raw.get("findings") or ()),
                   str(raw.get("digest", "")))
