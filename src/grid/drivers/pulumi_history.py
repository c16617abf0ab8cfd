"""Pulumi's own history of a stack in grid's backends, kept to a bounded size.

For every update of a stack, Pulumi's DIY backends (a directory, PostgreSQL) write a history entry
(`history/<project>/<stack>/<stack>-<nanos>.history.json`: what ran and what it changed), a whole copy of the
new checkpoint beside it (`<stack>-<nanos>.checkpoint.json`) and a copy of the checkpoint it replaced
(`backups/<project>/<stack>/<stack>.<nanos>.json`), each with a `.attrs` sidecar in a directory, and remove
none of them. Two checkpoint copies per update grow without end: 27 MB after 200 runs of a 9-node lab region,
and a 12,500-node region's checkpoint is tens of megabytes, so an agent applying every hour fills a disk in
days. grid keeps its own story (State.history, 200 runs) and its own state backups; of Pulumi's it keeps the
newest HISTORY_KEPT history entries (small: `pulumi stack history` still shows them) and the checkpoint
copies of the newest CHECKPOINTS_KEPT updates, removing older ones before an operation writes the stack.
Callers hold grid's state lock, so no other grid is writing this stack. Only names Pulumi writes are
touched; anything else in those directories stays. Pruning is housekeeping: it never fails a run.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from grid.drivers.pulumi_locks import pg_blob

HISTORY_KEPT = 200  # as many runs as grid's own state history keeps
CHECKPOINTS_KEPT = 10  # as many as grid keeps backups of its state


def names_to_remove(names: Iterable[str], stack: str, *, history_kept: int = HISTORY_KEPT,
                    checkpoints_kept: int = CHECKPOINTS_KEPT) -> list[str]:
    """Which of `names` (files of one stack's history and backups directories) are older than what is kept:
    history entries beyond the newest `history_kept` updates, checkpoint copies and backups beyond the newest
    `checkpoints_kept`; each with its sidecar. Names Pulumi does not write are never chosen."""
    entry = re.compile(re.escape(stack) + r"-(\d+)\.(history|checkpoint)\.json(?:\.gz)?(?:\.attrs)?")
    backup = re.compile(re.escape(stack) + r"\.(\d+)\.json(?:\.gz)?(?:\.attrs)?")
    kinds: dict[str, list[tuple[int, str]]] = {"history": [], "checkpoint": [], "backup": []}
    for name in names:
        if (found := entry.fullmatch(name)) is not None:
            kinds[found[2]].append((int(found[1]), name))
        elif (found := backup.fullmatch(name)) is not None:
            kinds["backup"].append((int(found[1]), name))
    kept = {"history": history_kept, "checkpoint": checkpoints_kept, "backup": checkpoints_kept}
    out: list[str] = []
    for kind, stamped in kinds.items():
        keep = set(sorted({stamp for stamp, _ in stamped}, reverse=True)[:max(kept[kind], 0)])
        out.extend(name for stamp, name in sorted(stamped) if stamp not in keep)
    return out


def prune_history(backend_url: str, project: str, stack: str, *, history_kept: int = HISTORY_KEPT,
                  checkpoints_kept: int = CHECKPOINTS_KEPT, env: Mapping[str, str] | None = None) -> list[str]:
    """Remove what `names_to_remove` chooses from the stack's history and backups in the backend at
    `backend_url` (file:// or postgres://); returns what was removed. `env`: the backend's environment for
    Pulumi (its PGPASSWORD). Nothing is raised: what cannot be removed (a read-only directory, the database
    away) stays, for the next run to try."""
    kept = {"history_kept": history_kept, "checkpoints_kept": checkpoints_kept}
    if backend_url.startswith(("postgres://", "postgresql://")):
        return _prune_pg(backend_url, project, stack, password=(env or {}).get("PGPASSWORD"), **kept)
    if not backend_url.startswith("file://"):
        return []
    root = Path(backend_url[len("file://"):]) / ".pulumi"
    removed: list[str] = []
    for directory in (root / "history" / project / stack, root / "backups" / project / stack):
        try:
            names = [p.name for p in directory.iterdir()]
        except OSError:
            continue
        for name in names_to_remove(names, stack, **kept):
            try:
                (directory / name).unlink()
            except FileNotFoundError:
                continue
            except OSError:
                break
            removed.append(str(directory / name))
    return removed


def _prune_pg(backend_url: str, project: str, stack: str, *, password: str | None, history_kept: int,
              checkpoints_kept: int) -> list[str]:
    """The same for Pulumi's postgres blob driver, whose rows are keyed `<database>/.pulumi/history/…`."""
    import psycopg
    from psycopg import sql

    conninfo, table_name, base = pg_blob(backend_url, password)
    table = sql.Identifier(table_name)
    prefixes = [f"{base}history/{project}/{stack}/", f"{base}backups/{project}/{stack}/"]
    removed: list[str] = []
    with contextlib.suppress(psycopg.Error, OSError), \
            psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        for prefix in prefixes:
            rows = conn.execute(sql.SQL("SELECT key FROM {} WHERE starts_with(key, %s)").format(table),
                                (prefix,)).fetchall()
            names = [key[len(prefix):] for (key,) in rows if "/" not in key[len(prefix):]]
            doomed = [prefix + name for name in names_to_remove(names, stack, history_kept=history_kept,
                                                                checkpoints_kept=checkpoints_kept)]
            if doomed:
                conn.execute(sql.SQL("DELETE FROM {} WHERE key = ANY(%s)").format(table), (doomed,))
                removed.extend(doomed)
    return removed
