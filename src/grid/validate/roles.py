"""The user's own roles and scripts: found where the spec says, read once (grid.render.own.OwnFiles).

`configuration.roles` and `pools[].configuration.roles` name grid's roles (grid.render.ansible_roles.available_roles)
or folders of `configuration.roles_path` in the standard layout (tasks/main.yml, defaults/, templates/, ...);
`scripts[].run` names files. Both relative to the spec file. Every problem is a finding at the key that names
the file, so render and the digests only ever see files that exist and are text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from grid.diagnostics import Diagnostic, Diagnostics, error, warning
from grid.diagnostics import Path as KeyPath
from grid.render.ansible_roles import available_roles
from grid.render.own import OwnFiles, RoleFiles
from grid.spec import LoadedSpec
from grid.spec.model import Cluster, Configuration, PoolConfiguration

CONFIG: KeyPath = ("spec", "configuration")
MAX_FILE_BYTES = 1 << 20
"""A role file or script larger than this is refused: rendered trees are text, read whole, hashed per plan."""
SKIPPED = frozenset({".git", "__pycache__", ".DS_Store"})


def own_files(loaded: LoadedSpec) -> tuple[OwnFiles, Diagnostics]:
    """The roles and scripts `loaded` names, read from next to the spec, and every finding about them
    (positioned at the spec key that names them)."""
    cluster = loaded.cluster
    if cluster is None:
        return OwnFiles(), Diagnostics()
    base = Path(loaded.source.file).parent
    found: list[Diagnostic] = []
    roles, scripts = _read(cluster, base, found)
    return OwnFiles(roles, scripts), Diagnostics.of(
        d if d.source else d.at(loaded.source.locate(d.path)) for d in found)


def _configurations(cluster: Cluster) -> Iterator[tuple[KeyPath, Configuration | PoolConfiguration]]:
    yield CONFIG, cluster.spec.configuration
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            if pool.configuration is not None:
                yield ("spec", "regions", r, "pools", p, "configuration"), pool.configuration


def _read(cluster: Cluster, base: Path, found: list[Diagnostic]) -> tuple[dict[str, RoleFiles], dict[str, str]]:
    config = cluster.spec.configuration
    folder = _roles_folder(config, base, found)
    ours = set(available_roles())
    theirs = {p.name for p in folder.iterdir() if p.is_dir() and p.name not in SKIPPED} if folder else set()
    for name in sorted(ours & theirs):
        found.append(warning(f"roles_path has a role named like grid's own '{name}': grid plays its own",
                             (*CONFIG, "roles_path"), code="roles.shadowed",
                             hint=f"rename the folder {name} in {config.roles_path} to use it"))
    roles: dict[str, RoleFiles] = {}
    scripts: dict[str, str] = {}
    used: set[str] = set()
    for at, conf in _configurations(cluster):
        for i, role in enumerate(conf.roles):
            used.add(role)
            if role in ours or role in roles:
                continue
            if folder is None or role not in theirs:
                found.append(_unknown_role(role, (*at, "roles", i), ours, theirs, config.roles_path))
                continue
            files = _role_files(folder / role, (*at, "roles", i), found)
            if files is not None:
                roles[role] = files
        for s, script in enumerate(conf.scripts):
            if script.run not in scripts:
                text = _text_file(base / script.run, (*at, "scripts", s, "run"), f"script {script.run}", found)
                if text is not None:
                    scripts[script.run] = text
        for role in conf.role_vars:
            if role in ours:
                found.append(error(f"role_vars for grid's own role '{role}'", (*at, "role_vars", role),
                                   code="roles.vars-for-grid",
                                   hint="grid's roles take their settings from the spec's keys; role_vars are "
                                        "for your own roles"))
    for at, conf in _configurations(cluster):
        for role in conf.role_vars:
            if role not in used and role not in ours:
                found.append(warning(f"role_vars for '{role}', a role no configuration plays",
                                     (*at, "role_vars", role), code="roles.vars-unused",
                                     hint=f"add '{role}' to configuration.roles (or a pool's), or remove these"))
    return roles, scripts


def _roles_folder(config: Configuration, base: Path, found: list[Diagnostic]) -> Path | None:
    if config.roles_path is None:
        return None
    folder = base / config.roles_path
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        found.append(error(f"roles_path {config.roles_path} {what}", (*CONFIG, "roles_path"),
                           code="roles.path", detail=f"looked for {folder}",
                           hint="name a folder of Ansible roles next to the spec (roles/<name>/tasks/main.yml)"))
        return None
    return folder


def _unknown_role(role: str, at: KeyPath, ours: set[str], theirs: set[str], roles_path: str | None) -> Diagnostic:
    known = ", ".join(sorted(ours)) + (f"; in {roles_path}: {', '.join(sorted(theirs)) or 'none'}"
                                       if roles_path else "")
    hint = (f"add the role as {roles_path}/{role}/tasks/main.yml, or remove it" if roles_path else
            f"put your roles in a folder next to the spec and name it in configuration.roles_path "
            f"(then {role}/tasks/main.yml in it)")
    return error(f"unknown role '{role}'", at, code="roles.unknown", detail=f"known roles: grid's {known}",
                 hint=hint)


def _role_files(folder: Path, at: KeyPath, found: list[Diagnostic]) -> RoleFiles | None:
    if not (folder / "tasks" / "main.yml").is_file():
        found.append(error(f"role '{folder.name}' has no tasks/main.yml", at, code="roles.layout",
                           detail=f"looked in {folder}",
                           hint="a role is a folder in the standard Ansible layout: tasks/main.yml, and "
                                "optionally defaults/, vars/, handlers/, templates/, files/, meta/"))
        return None
    files: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIPPED for part in rel.parts) or not path.is_file():
            continue
        text = _text_file(path, at, f"role '{folder.name}' file {rel.as_posix()}", found)
        if text is None:
            return None
        files.append((rel.as_posix(), text))
    return tuple(files)


def _text_file(path: Path, at: KeyPath, what: str, found: list[Diagnostic]) -> str | None:
    """The file's text, or None with a finding: missing, not a file, too large, or not UTF-8 text."""
    if not path.is_file():
        found.append(error(f"{what} {'is not a file' if path.exists() else 'does not exist'}", at,
                           code="roles.missing-file", detail=f"looked for {path}",
                           hint="paths are relative to the spec file's folder"))
        return None
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        found.append(error(f"{what} is larger than {MAX_FILE_BYTES >> 20} MiB", at,
                           code="roles.large-file", detail=str(path),
                           hint="fetch large files from the nodes (get_url) instead of shipping them in the role"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\0" in text:
        found.append(error(f"{what} is not text (UTF-8)", at, code="roles.binary-file",
                           detail=str(path),
                           hint="grid renders text files only: fetch binaries on the nodes (get_url), or "
                                "keep them out of the role folder"))
        return None
    return text
