"""The spec's `moved:` list: every mistake a finding at file:line:col (grid.validate.moved)."""

from __future__ import annotations

from grid.spec import load_spec_text
from support.specs import EAST_FABRICS, LOCAL_SPEC_HEAD, findings, where

POOLS = """\
      storage:
        - {name: data, kind: nfs, capacity_tib: 1, mount: /data}
      pools:
        - {name: train, count: 2, fabrics: [mgmt], storage: [data]}
        - {name: infer, count: 1, fabrics: [mgmt]}
"""


def _spec(moved: str) -> str:
    return LOCAL_SPEC_HEAD + EAST_FABRICS + POOLS + "  moved:\n" + moved


def test_a_plain_rename_is_valid() -> None:
    text = _spec("    - {from: east/train-old, to: east/train}\n"
                 "    - {from: east/storage/old, to: east/storage/data}\n"
                 "    - {from: east/fabric/admin, to: east/fabric/mgmt}\n")
    assert findings(text, "moved") == []
    loaded = load_spec_text(text, "t.yaml")
    assert loaded.cluster is not None
    assert (loaded.cluster.spec.moved[0].from_, loaded.cluster.spec.moved[0].to) == ("east/train-old", "east/train")


def test_a_cycle_is_named_at_its_entry() -> None:
    text = _spec("    - {from: east/train, to: east/infer}\n"
                 "    - {from: east/infer, to: east/train}\n")
    cycles = findings(text, "moved.cycle")
    assert len(cycles) == 1
    assert "east/train → east/infer → east/train" in cycles[0].summary
    line = text.splitlines().index("    - {from: east/train, to: east/infer}") + 1
    assert where(cycles[0]) == (line, text.splitlines()[line - 1].index("east/infer") + 1)
    assert {d.code for d in findings(text, "moved")} >= {"moved.cycle", "moved.from-present"}


def test_a_from_still_in_the_spec() -> None:
    text = _spec("    - {from: east/infer, to: east/train}\n")
    found = findings(text, "moved.from-present")
    assert len(found) == 1 and "still has pool east/infer" in found[0].summary
    line = len(text.splitlines())
    assert where(found[0]) == (line, text.splitlines()[-1].index("east/infer") + 1)


def test_two_entries_with_one_from_or_one_to() -> None:
    text = _spec("    - {from: east/a, to: east/train}\n"
                 "    - {from: east/a, to: east/infer}\n"
                 "    - {from: east/b, to: east/train}\n")
    found = findings(text, "moved.duplicate")
    assert sorted(d.summary for d in found) == [
        "moved: east/a is renamed twice (entries 1 and 2)",
        "moved: two entries rename to east/train (entries 1 and 3)"]
    assert where(found[0])[0] == len(text.splitlines()) - 1


def test_kinds_that_differ_and_regions() -> None:
    text = _spec("    - {from: east/old, to: east/fabric/mgmt}\n"
                 "    - {from: west, to: east}\n"
                 "    - {from: west/old, to: east/infer}\n")
    codes = [d.code for d in findings(text, "moved")]
    assert codes.count("moved.kind") == 1
    assert codes.count("moved.region") == 2
    kind = findings(text, "moved.kind")[0]
    assert "east/old is a pool and east/fabric/mgmt a fabric" in kind.summary
    region = findings(text, "moved.region")[0]
    assert "renaming a region" in region.summary and region.hint


def test_a_to_the_spec_does_not_have_and_a_bad_address() -> None:
    text = _spec("    - {from: east/old, to: east/nothing}\n")
    assert [d.code for d in findings(text, "moved")] == ["moved.to-missing"]
    loaded = load_spec_text(_spec("    - {from: East/Old, to: east/train}\n"), "t.yaml")
    assert loaded.cluster is None
    bad = [d for d in loaded.diagnostics if d.path[:3] == ("spec", "moved", 0)]
    assert bad and bad[0].source is not None and bad[0].source.line == len(_spec("").splitlines()) + 1


def test_a_chain_says_to_write_one_entry() -> None:
    text = _spec("    - {from: east/a, to: east/b}\n"
                 "    - {from: east/b, to: east/train}\n")
    chain = findings(text, "moved.chain")
    assert len(chain) == 1 and "from east/a to east/train" in chain[0].hint
