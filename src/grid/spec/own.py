"""The spec's own configuration values: limits.d items, scripts, role variables (grid.spec.model uses them in
`configuration` and `pools[].configuration`), and how a pool's configuration merges over the cluster's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

if TYPE_CHECKING:
    from grid.spec.model import Configuration, PoolConfiguration


def _relative(value: str) -> str:
    if value.startswith("/"):
        raise ValueError("give a path relative to the spec file (like roles or scripts/setup.sh)")
    return value


RelativePath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,200}$"), AfterValidator(_relative)]
"""A file or folder next to the spec (relative to the spec file's folder)."""

LimitItem = Literal["as", "core", "cpu", "data", "fsize", "locks", "maxlogins", "maxsyslogins", "memlock",
                    "msgqueue", "nice", "nofile", "nproc", "priority", "rss", "rtprio", "sigpending", "stack"]
"""The items of limits.conf(5)."""
LimitValue = Annotated[int, Field(ge=-20, le=2**62)] | Literal["unlimited"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Limit(_Model):
    """Soft and hard values of one limits.conf item; one given alone sets only that one."""

    soft: LimitValue | None = None
    hard: LimitValue | None = None


Limits = dict[LimitItem, Union[LimitValue, Limit]]  # noqa: UP007 - pydantic needs the runtime Union here
"""`{memlock: unlimited}` (soft and hard alike) or `{nofile: {soft: 65536, hard: 1048576}}`."""


class Script(_Model):
    run: RelativePath = Field(description="A script next to the spec, run on the nodes as root")
    when: Literal["once", "every-apply"] = Field(
        "once", description="`once`: once per content (a marker on the node holds its digest); `every-apply`: "
                            "each time grid configures the node")


def _plain(value: Any, depth: int = 0) -> Any:
    """A role variable's value as given, when it is plain data: never code for Ansible to run."""
    if depth > 8:
        raise ValueError("role variables nest at most 8 deep")
    if isinstance(value, str):
        if "{{" in value or "{%" in value or "{#" in value:
            raise ValueError("role variables are plain values: '{{', '{%' and '{#' would make Ansible run them "
                             "as Jinja code")
        if len(value) > 4096:
            raise ValueError("a role variable's text is at most 4096 characters")
        return value
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _plain(item, depth + 1) for key, item in value.items()}
    raise ValueError(f"a role variable is text, a number, true/false, or a list or map of those, not "
                     f"{type(value).__name__}")


_PLAIN_SCHEMA = {"description": "text (no Jinja), a number, true/false, or a list or map of those",
                 "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "array"},
                           {"type": "object"}]}
PlainValue = Annotated[Any, AfterValidator(_plain), WithJsonSchema(_PLAIN_SCHEMA)]


def _not_reserved(value: str) -> str:
    if value.startswith(("grid_", "ansible_")):
        raise ValueError("grid_* and ansible_* are grid's and Ansible's own variables; name it after its role")
    return value


VarName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,63}$"), AfterValidator(_not_reserved)]
"""An Ansible variable name that is not grid's (`grid_*`) nor Ansible's own (`ansible_*`)."""
RoleVars = dict[VarName, PlainValue]


def merged(cluster: Configuration, pool: PoolConfiguration | None) -> dict[str, Any]:
    """The configuration a pool's hosts get: lists appended and de-duplicated (roles, scripts by `run`, users by
    name; the pool's entry wins and keeps the place of the first), maps merged key by key (sysctl, limits,
    role_vars per role), the pool winning."""
    extra_roles: Sequence[str] = pool.roles if pool else ()
    return {
        "roles": list(dict.fromkeys([*cluster.roles, *extra_roles])),
        "sysctl": _maps(cluster.sysctl, pool.sysctl if pool else {}),
        "limits": _maps(cluster.limits, pool.limits if pool else {}),
        "users": _by_key([*cluster.users, *(pool.users if pool else ())], "name"),
        "scripts": _by_key([*cluster.scripts, *(pool.scripts if pool else ())], "run"),
        "role_vars": {role: _maps(cluster.role_vars.get(role, {}), (pool.role_vars if pool else {}).get(role, {}))
                      for role in sorted({*cluster.role_vars, *(pool.role_vars if pool else {})})},
    }


def _maps(base: Mapping[Any, Any], over: Mapping[Any, Any]) -> dict[Any, Any]:
    return {**base, **over}


def _by_key(items: Sequence[Any], key: str) -> list[Any]:
    out: dict[str, Any] = {}
    for item in items:
        out[getattr(item, key)] = item  # a later (pool) entry replaces an earlier one in its place
    return list(out.values())
