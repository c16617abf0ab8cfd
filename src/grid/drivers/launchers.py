"""The small executables grid writes for an engine to start in its place (Pulumi's provider host, Ansible's
command): written only when their text differs, atomically, so that two runs writing one at once never leave a
half-written file where a process is being started."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_launcher(path: Path, text: str) -> Path:
    """`path`, holding `text` and executable by its owner only; rewritten only when it differs."""
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        temp.write_text(text)
        temp.chmod(0o700)
        os.replace(temp, path)
    return path
