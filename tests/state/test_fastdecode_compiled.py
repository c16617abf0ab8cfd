"""The fast decode's unrolled builders (one generated function per model) build what validation builds from
any record, or leave it to validation: never a different model."""

from __future__ import annotations

import copy
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grid.state import _fastdecode as fast
from grid.state.model import HealthRun, HistoryEntry, HostRecord, ResourceRecord

leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3),
                 st.sampled_from(["configured", "pending", "drifted", "spec", "applied", "warning"]))
value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=2), inner, max_size=3)),
                     max_leaves=6)


def records(model: type[pydantic.BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Records with some of the model's fields (and now and then another key), of any JSON values."""
    names = [*model.model_fields, "extra"]
    return st.dictionaries(st.sampled_from(names), value, max_size=len(names))


@pytest.mark.parametrize("model", [ResourceRecord, HostRecord, HistoryEntry, HealthRun])
@given(data=st.data())
def test_a_record_is_built_as_validation_builds_it_or_left_to_it(model: type[pydantic.BaseModel],
                                                                 data: st.DataObject) -> None:
    record = data.draw(records(model))
    built = fast.build_parsed(model, copy.deepcopy(record))
    if built is None:
        return  # left to validation, which makes the model or the error message
    expected = model.model_validate(record)
    assert built == expected
    assert list(built.__dict__) == list(expected.__dict__)
    assert built.model_fields_set == expected.model_fields_set


def test_a_plain_record_takes_the_fast_path() -> None:
    record = {"address": "r/p/node-0000", "kind": "node", "region": "r", "attrs": {"a": [1]}, "outputs": {}}
    built = fast.build_parsed(ResourceRecord, dict(record))
    assert built == ResourceRecord.model_validate(record)
    assert fast.build_parsed(ResourceRecord, {**record, "kind": 1}) is None  # validation's error, not ours
