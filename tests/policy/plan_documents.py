"""A small plan document (grid-plan/v1) the policy tests run packs against."""

from __future__ import annotations

from typing import Any

DOCUMENT: dict[str, Any] = {
    "format": "grid-plan/v1", "cluster": "c", "target": "local", "has_changes": True,
    "changes": [{"address": "east/train/node-0000", "kind": "node", "region": "east", "action": "replace",
                 "cause": "spec", "reason": "image changed", "attributes": [],
                 "after": {"pool": "train", "accelerator": "h100-sxm"}}],
    "capacity": {"summary": {"regions": [{"name": "east", "nodes": 1, "accelerators": 8, "facility_mw": 1.5,
                                          "tco2_per_year": 900.0, "accelerators_by_model": {"h100-sxm": 8}}]}},
}
