"""A real git remote for tests of the agent: a bare repository in tmp and a clone that commits (optionally signed
with an SSH key made by ssh-keygen) and pushes to it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.test", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=dict(os.environ, **GIT_ENV), check=True,
                          capture_output=True, text=True).stdout


def keypair(directory: Path, name: str) -> Path:
    """A new ed25519 key pair without a passphrase: `directory/name` and `directory/name.pub`."""
    key = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


def allowed_signers(directory: Path, *keys: Path) -> Path:
    """git's allowedSignersFile trusting `keys`."""
    path = directory / "allowed_signers"
    path.write_text("".join(f"ops@example.test {key.with_suffix('.pub').read_text()}" for key in keys))
    return path


class Remote:
    """A bare repository (`bare`, branch main) and a clone that pushes to it."""

    def __init__(self, directory: Path) -> None:
        self.bare = directory / "remote.git"
        self.clone = directory / "clone"
        git(directory, "init", "--bare", "--quiet", "-b", "main", str(self.bare))
        git(directory, "init", "--quiet", "-b", "main", str(self.clone))

    def commit(self, files: dict[str, str], *, key: Path | None = None) -> str:
        """Write `files` (path → text), commit (signed with `key` if given), push; the new commit's sha."""
        for name, text in files.items():
            (self.clone / name).parent.mkdir(parents=True, exist_ok=True)
            (self.clone / name).write_text(text)
        git(self.clone, "add", "-A")
        signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-S"] if key else ["commit"]
        git(self.clone, *signing, "--quiet", "-m", "change")
        git(self.clone, "push", "--quiet", str(self.bare), "main")
        return git(self.clone, "rev-parse", "HEAD").strip()
