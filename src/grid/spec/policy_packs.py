"""The spec's `policy:` block: the policy packs every plan of the spec runs (docs/policy.md).

    policy:
      packs: [policies/carbon-budget, policies/change-freeze]   # relative to the spec file

Named in the spec, the packs run for everyone who plans it — people, CI and `grid agent` alike.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from grid.spec.factories import empty_list
from grid.spec.own import RelativePath


class PolicySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    packs: list[RelativePath] = Field(
        default_factory=empty_list, max_length=32,
        description="Policy pack directories (relative to the spec) every plan of this spec runs: .py policies "
                    "and a pack.yaml of thresholds; a mandatory finding blocks `grid up` and `grid apply`")
