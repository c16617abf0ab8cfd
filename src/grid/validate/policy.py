"""The spec's policy packs (`spec.policy.packs`): each must be a usable pack next to the spec (docs/policy.md).

Read here as `grid plan` will read them, so a missing directory or a bad pack.yaml shows up in `grid validate`
at the spec's line too.
"""

from __future__ import annotations

from pathlib import Path

from grid.diagnostics import Diagnostic, Diagnostics, error
from grid.spec import LoadedSpec


def policy_packs(loaded: LoadedSpec) -> Diagnostics:
    """Findings about the packs the spec names, at the spec's positions (relative to the spec file)."""
    if loaded.cluster is None or not loaded.cluster.spec.policy.packs:
        return Diagnostics()
    # grid.policy (its API, plan view and Rego runner) only for a spec that names packs: start-up (issue 20).
    from grid.policy.packs import PolicyError, load_pack

    base = Path(loaded.source.file).parent
    found: list[Diagnostic] = []
    seen: set[Path] = set()
    for index, relative in enumerate(loaded.cluster.spec.policy.packs):
        path = ("spec", "policy", "packs", index)
        where = (base / relative).resolve()
        if where in seen:
            found.append(error(f"policy pack {relative} is named twice", path, hint="name each pack once",
                               code="policy").at(loaded.source.locate(path)))
            continue
        seen.add(where)
        try:
            load_pack(base / relative)
        except PolicyError as exc:
            found.append(error(exc.message, path, hint=exc.hint, code="policy").at(loaded.source.locate(path)))
    return Diagnostics.of(found)
