"""A cheaper constructor for the frozen values made one per resource and per host (Resource, ResourceChange,
HostConfigChange: by the 10^5 in a plan of a large cluster).

A frozen dataclass's generated __init__ sets each field through object.__setattr__ (its own __setattr__
refuses): a ResourceChange costs ~1.4 µs to make, 0.15 s of a first plan of 10^5 nodes with its
HostConfigChanges. A slotted class's fields are slot descriptors, which set the field directly in half that
time. `slot_init` gives such a class an __init__ with the generated one's signature that does that; everything
else (frozen assignment, equality, hashing, repr, pickling) stays the dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

T = TypeVar("T")


def slot_init(cls: type[T]) -> type[T]:
    """Replace the __init__ of the frozen, slotted dataclass `cls` (plain fields: each in __init__, no
    default_factory, no __post_init__) by one that sets the fields through their slot descriptors."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"slot_init: {cls.__name__} is not a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"slot_init: {cls.__name__} has a __post_init__, which this __init__ would skip")
    fields = dataclasses.fields(cast(Any, cls))  # a dataclass: checked above
    namespace: dict[str, Any] = {}
    arguments, body = [], []
    for field in fields:
        if not field.init or field.kw_only or field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"slot_init: {cls.__name__}.{field.name} is not a plain positional field")
        namespace[f"_set_{field.name}"] = getattr(cls, field.name).__set__
        if field.default is dataclasses.MISSING:
            arguments.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            arguments.append(f"{field.name}=_default_{field.name}")
        body.append(f"    _set_{field.name}(self, {field.name})")
    source = f"def __init__(self, {', '.join(arguments)}):\n" + "\n".join(body or ["    pass"]) + "\n"
    exec(source, namespace)  # as dataclasses makes its own __init__: a signature is made from text
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)  # the signature, as written
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
