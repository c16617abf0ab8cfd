"""A policy pack on disk: a directory of `.py` and `.rego` files (the policies) and an optional `pack.yaml`.

    # pack.yaml
    name: carbon-budget            # default: the directory's name
    description: tCO2/yr per region under a budget
    timeout_seconds: 10            # per policy (default 10)
    levels: {tco2-budget: advisory}   # override a policy's level, or `disabled`
    config:                        # what the policies get as `config`
      budget_tco2_per_year: 100000

The digest covers every file of the pack (names and bytes; not `__pycache__` nor hidden files), so a saved plan
knows when a policy changed after it was made.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grid.errors import GridError
from grid.spec.loader import SourceMap, load_file

PACK_FILE = "pack.yaml"
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 300.0
LEVEL_CHOICES = ("mandatory", "advisory", "disabled")
PACK_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
PACK_KEYS = ("name", "description", "timeout_seconds", "levels", "config")
WRITE_PACK = "see docs/policy.md for what a pack holds"


class PolicyError(GridError):
    """A policy pack cannot be used at all (missing, empty, a bad pack.yaml): nothing was planned with it."""


@dataclass(frozen=True)
class Pack:
    name: str
    path: Path  # absolute
    files: tuple[Path, ...]  # the Python policies, in name order
    digest: str
    config: Mapping[str, Any] = field(default_factory=dict)
    levels: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    description: str = ""
    rego: tuple[Path, ...] = ()  # the Rego policy files, in name order (grid.policy.rego)


def pack_digest(directory: Path) -> str:
    """sha256 of every file of the pack: relative names and bytes, in name order."""
    digest = hashlib.sha256()
    for path in sorted(_pack_files(directory)):
        relative = path.relative_to(directory).as_posix()
        digest.update(f"{len(relative)}:{relative}".encode())
        content = path.read_bytes()
        digest.update(f"{len(content)}:".encode() + content)
    return "sha256:" + digest.hexdigest()


def combined_digest(digests: Iterable[tuple[str, str]]) -> str:
    """One digest of several packs' (path, digest), in the order they ran."""
    text = "\n".join(f"{path} {digest}" for path, digest in digests)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _pack_files(directory: Path) -> Iterable[Path]:
    for path in directory.rglob("*"):
        parts = path.relative_to(directory).parts
        if path.is_file() and "__pycache__" not in parts and not any(p.startswith(".") for p in parts):
            yield path


def load_pack(directory: Path) -> Pack:
    """The pack in `directory`; PolicyError when there is none, it holds no policy or its pack.yaml is bad."""
    if not directory.exists():
        raise PolicyError(f"policy pack {directory} does not exist",
                          hint="give the directory of a policy pack (its .py files and pack.yaml)")
    if not directory.is_dir():
        raise PolicyError(f"policy pack {directory} is not a directory", hint=WRITE_PACK)
    root = directory.resolve()
    files = tuple(sorted(p for p in root.glob("*.py") if p.is_file() and not p.name.startswith(("_", "."))))
    rego = rego_files(root)
    if not files and not rego:
        raise PolicyError(f"policy pack {directory} has no policies (no .py or .rego file in it)",
                          hint="put the policies in .py files there, each function marked with @policy, or in "
                               ".rego files with deny/warn rules; " + WRITE_PACK)
    settings = _read_settings(root / PACK_FILE, directory / PACK_FILE)
    name = str(settings.get("name") or root.name)
    return Pack(name, root, files, pack_digest(root), settings.get("config") or {}, settings.get("levels") or {},
                float(settings.get("timeout_seconds") or DEFAULT_TIMEOUT), str(settings.get("description") or ""),
                rego)


def rego_files(directory: Path) -> tuple[Path, ...]:
    """The pack's Rego policy files, in name order (not `_*.rego`, nor `*_test.rego`: those are for `opa test`)."""
    return tuple(sorted(p for p in directory.glob("*.rego")
                        if p.is_file() and not p.name.startswith((".", "_")) and not p.name.endswith("_test.rego")))


def _read_settings(path: Path, shown: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    loaded = load_file(str(shown))
    if loaded.diagnostics:
        first = loaded.diagnostics[0]
        where = f"{first.source.file}:{first.source.line}:{first.source.col}" if first.source else str(shown)
        raise PolicyError(f"{where}: {first.summary}", hint=first.hint or WRITE_PACK)
    data = loaded.data if loaded.data is not None else {}
    if not isinstance(data, dict):
        _bad(loaded.source, (), "pack.yaml must be a mapping of name, description, timeout_seconds, levels, config")
    assert isinstance(data, dict)
    for key in data:
        if key not in PACK_KEYS:
            _bad(loaded.source, (key,), f"unknown key '{key}' in pack.yaml", key=True,
                 hint=f"the keys are {', '.join(PACK_KEYS)}")
    name = data.get("name")
    if name is not None and not (isinstance(name, str) and PACK_NAME.match(name)):
        _bad(loaded.source, ("name",), f"pack name {name!r} is not a plain name",
             hint="use lowercase letters, digits, '.', '-' and '_'")
    timeout = data.get("timeout_seconds")
    if timeout is not None and not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
                                    and 0 < timeout <= MAX_TIMEOUT):
        _bad(loaded.source, ("timeout_seconds",), f"timeout_seconds must be a number of seconds in (0, "
             f"{MAX_TIMEOUT:.0f}], not {timeout!r}")
    for key in ("levels", "config"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            _bad(loaded.source, (key,), f"'{key}' must be a mapping")
    for policy_name, level in (data.get("levels") or {}).items():
        if level not in LEVEL_CHOICES:
            _bad(loaded.source, ("levels", policy_name), f"level {level!r} of policy '{policy_name}' is not one "
                 f"of {', '.join(LEVEL_CHOICES)}")
    if data.get("description") is not None and not isinstance(data["description"], str):
        _bad(loaded.source, ("description",), "description must be text")
    return data


def _bad(source: SourceMap, path: tuple[str | int, ...], summary: str, *, key: bool = False,
         hint: str = WRITE_PACK) -> None:
    where = source.locate(path, key=key)
    raise PolicyError(f"{where.file}:{where.line}:{where.col}: {summary}", hint=hint)
