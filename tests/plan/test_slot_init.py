"""The per-resource values made by slot_init's __init__ behave as the dataclass's own would: the same
signature, the same values, still frozen; classes it cannot serve are refused when they are defined."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from grid.plan.model import Action, Cause, HostConfigChange, ResourceChange
from grid.resources import Resource
from grid.slot_init import slot_init


@dataclass(frozen=True, slots=True)
class Generated:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()


@slot_init
@dataclass(frozen=True, slots=True)
class Quick:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()


def fields_of(value: object) -> dict[str, object]:
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}  # type: ignore[arg-type]


@pytest.mark.parametrize("args, kwargs", [(("a",), {}), (("a", 2), {}), (("a",), {"tags": ("x",)}),
                                          ((), {"name": "a", "count": 3, "tags": ()}), (("a", 1, ("y",)), {})])
def test_same_values_as_the_generated_init(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    assert fields_of(Quick(*args, **kwargs)) == fields_of(Generated(*args, **kwargs))


def test_same_signature_as_the_generated_init() -> None:
    assert str(inspect.signature(Quick.__init__)) == str(inspect.signature(Generated.__init__))
    for cls in (Resource, ResourceChange, HostConfigChange):
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        assert [(p.name, p.default) for p in params] == [
            (f.name, inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
            for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("args, kwargs", [((), {}), (("a", 1, (), 4), {}), (("a",), {"colour": 1}),
                                          (("a",), {"name": "b"})])
def test_wrong_calls_fail_as_they_did(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        Generated(*args, **kwargs)  # type: ignore[arg-type, call-arg, misc]
    with pytest.raises(TypeError):
        Quick(*args, **kwargs)  # type: ignore[arg-type, call-arg, misc]


def test_values_stay_frozen_equal_hashable_and_picklable() -> None:
    change = ResourceChange("east/train/node-0000", "node", "east", Action.CREATE, after={"pool": "train"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.reason = "edited"  # type: ignore[misc]
    assert change == ResourceChange("east/train/node-0000", "node", "east", Action.CREATE, Cause.SPEC, (), "",
                                    {"pool": "train"})
    assert pickle.loads(pickle.dumps(change)) == change
    assert dataclasses.replace(change, reason="r").reason == "r"
    host = HostConfigChange("east/train/node-0000", "full", "new node")
    assert host.cause is Cause.SPEC and hash(host) == hash(HostConfigChange("east/train/node-0000", "full", "new node"))
    assert repr(host) == ("HostConfigChange(address='east/train/node-0000', scope='full', reason='new node', "
                          "cause=<Cause.SPEC: 'spec'>)")


def test_classes_it_cannot_serve_are_refused() -> None:
    with pytest.raises(TypeError, match="frozen, slotted"):
        slot_init(dataclass(slots=True)(type("Open", (), {"__annotations__": {"a": int}})))
    with pytest.raises(TypeError, match="frozen, slotted"):
        slot_init(dataclass(frozen=True)(type("Dicted", (), {"__annotations__": {"a": int}})))

    @dataclass(frozen=True, slots=True)
    class Factory:
        items: list[int] = field(default_factory=list)

    with pytest.raises(TypeError, match="plain positional"):
        slot_init(Factory)

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="__post_init__"):
        slot_init(Checked)
