"""grid.render.fast_yaml writes exactly PyYAML's bytes, or leaves the document to PyYAML."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.render import fast_yaml
from grid.render.ansible import _pyyaml, _scalar_text

KEYS = st.one_of(st.sampled_from(["yes", "no", "on", "null", "~", "0755", "1e3", "2026-12-06", "a: b", "- x", "#c",
                                  "hub0-data-0000", "100.64.0.1", "x y", "'q'", '"d"', "a-b", "_x", "/p", "-a", ".a",
                                  "...", "---x", "@a", "%a", "a#b", "a:", "?"]),
                 st.text(alphabet="abc09 :#-./_'\"é?!&*|>%@`\n", max_size=6))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), KEYS)
TREES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=4)), max_leaves=30)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(KEYS, TREES, min_size=1, max_size=5))
def test_the_same_bytes_as_pyyaml_or_none(value: dict[str, Any]) -> None:
    fast = fast_yaml.dump(value, _scalar_text)
    assert fast is None or fast == _pyyaml(value)


def test_an_inventory_shape_takes_the_fast_path() -> None:
    hosts = {f"hub0-data-{i:04d}": {"ansible_host": f"100.64.0.{i}", "grid_index": i, "grid_roles": ["compute"],
                                    "grid_storage": [{"mount": "/shared", "name": "pfs"}], "on": "yes", "n": None,
                                    "grid_limits": {}, "grid_users": []} for i in range(5)}
    value = {"all": {"children": {"pool_hub0_data": {"hosts": hosts}, "role_compute": {"hosts": dict.fromkeys(hosts)}}}}
    fast = fast_yaml.dump(value, _scalar_text)
    assert fast is not None and fast == _pyyaml(value)
    assert yaml.safe_load(fast) == value


def test_what_pyyaml_writes_otherwise_is_left_to_it() -> None:
    shared = {"a": 1}
    assert fast_yaml.dump({"x": shared, "y": shared}, _scalar_text) is None  # anchor and alias
    assert fast_yaml.dump({"x": "two\nlines"}, _scalar_text) is None
    assert fast_yaml.dump({"x": ("a", "tuple")}, _scalar_text) is None
    assert fast_yaml.dump({1: "int key"}, _scalar_text) is None
    assert fast_yaml.dump({"k" * 200: 1}, _scalar_text) is None  # PyYAML writes `? key`
    assert fast_yaml.dump({}, _scalar_text) is None
