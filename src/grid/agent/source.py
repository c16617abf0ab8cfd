"""The spec as a fixed commit of a git remote: fetch, verify the signature, materialise that commit's tree.

Everything goes through the `git` CLI (no shell, no prompts, with timeouts). The fetched commit's tree is written
to <workdir>/agent/commits/<sha>/ so the spec and the files beside it (roles, an approved plan) are read from that
commit only; the last commit the agent accepted is remembered in <workdir>/agent/last-good (written atomically).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grid.agent.config import AgentConfig

GIT_TIMEOUT = 120.0  # seconds for one git command (a fetch over a slow link included)
KEEP_TREES = 3  # commit trees kept besides the last good one


@dataclass(frozen=True)
class Fetched:
    """A verified commit, its tree on disk and the spec in it."""

    sha: str
    tree: Path

    def file(self, path: str) -> Path:
        return self.tree / path


@dataclass(frozen=True)
class FetchFailed:
    """The remote could not be read (unreachable, no such branch, git failed); the last good commit stays."""

    reason: str


@dataclass(frozen=True)
class Refused:
    """The commit was fetched but is not to be applied: its signature is missing or not an allowed signer's."""

    sha: str
    reason: str


class _GitFailed(Exception):
    pass


class SpecSource:
    def __init__(self, config: AgentConfig, *, timeout: float = GIT_TIMEOUT) -> None:
        self._config = config
        self._timeout = timeout
        self.root = config.workdir / "agent"
        self._repo = self.root / "repo"
        self._commits = self.root / "commits"

    def fetch(self) -> Fetched | FetchFailed | Refused:
        """The branch's head as the remote has it now, verified and materialised."""
        try:
            self._ensure_repo()
            ref = f"refs/grid-agent/{self._config.branch}"
            self._git("fetch", "--no-tags", "--force", "--quiet", "--", self._remote(),
                      f"+refs/heads/{self._config.branch}:{ref}")
            sha = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
        except _GitFailed as exc:
            return FetchFailed(str(exc))
        if self._config.require_signed and (reason := self._signature_problem(sha)):
            return Refused(sha, reason)
        try:
            return Fetched(sha, self._materialise(sha))
        except (_GitFailed, OSError, tarfile.TarError) as exc:
            return FetchFailed(f"cannot write the tree of commit {sha[:12]}: {exc}")

    def last_good(self) -> Fetched | None:
        """The commit accepted last (its tree still on disk), for when the remote cannot be read."""
        try:
            sha = (self.root / "last-good").read_text().strip()
        except OSError:
            return None
        tree = self._commits / sha
        return Fetched(sha, tree) if sha and tree.is_dir() else None

    def mark_good(self, fetched: Fetched) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.root, delete=False, prefix=".last-good.") as handle:
            handle.write(fetched.sha + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, self.root / "last-good")
        self._prune(keep={fetched.sha})

    def _remote(self) -> str:
        repo = self._config.repo
        return str(Path(repo).absolute()) if Path(repo).exists() else repo  # a local path as given, made absolute

    def _ensure_repo(self) -> None:
        if not (self._repo / "HEAD").is_file():
            self._repo.mkdir(parents=True, exist_ok=True)
            self._git("init", "--bare", "--quiet", str(self._repo), in_repo=False)

    def _signature_problem(self, sha: str) -> str:
        """Why the commit may not be applied ('' when its signature is an allowed signer's)."""
        assert self._config.allowed_signers is not None  # AgentConfig requires it with require_signed
        try:
            self._git("-c", f"gpg.ssh.allowedSignersFile={self._config.allowed_signers}", "verify-commit", sha)
        except _GitFailed as exc:
            text = str(exc)
            if "no signature" in text.lower() or not text:
                return f"commit {sha[:12]} is not signed, and require_signed is on"
            return f"commit {sha[:12]} is not signed by an allowed signer ({self._config.allowed_signers}): {text}"
        return ""

    def _materialise(self, sha: str) -> Path:
        target = self._commits / sha
        if target.is_dir():
            return target
        self._commits.mkdir(parents=True, exist_ok=True)
        archive = self._git_bytes("archive", "--format=tar", sha)
        staging = Path(tempfile.mkdtemp(dir=self._commits, prefix=f".{sha[:12]}."))
        try:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(staging, filter="data")  # no absolute paths, links out or devices
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def _prune(self, keep: set[str]) -> None:
        """Old commit trees go; the newest few and `keep` stay."""
        if not self._commits.is_dir():
            return
        trees = sorted((p for p in self._commits.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for tree in trees[:-KEEP_TREES]:
            if tree.name not in keep:
                shutil.rmtree(tree, ignore_errors=True)

    def _git(self, *args: str, in_repo: bool = True) -> str:
        return self._git_bytes(*args, in_repo=in_repo).decode(errors="replace")

    def _git_bytes(self, *args: str, in_repo: bool = True) -> bytes:
        command = ["git", *(["--git-dir", str(self._repo)] if in_repo else []), *args]
        try:
            done = subprocess.run(command, capture_output=True, timeout=self._timeout, env=_git_env(), check=False)
        except subprocess.TimeoutExpired:
            raise _GitFailed(f"git {args[0]} did not finish within {self._timeout:.0f}s") from None
        except OSError as exc:
            raise _GitFailed(f"cannot run git: {exc.strerror or exc}") from None
        if done.returncode != 0:
            lines = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
            raise _GitFailed("; ".join(lines[-3:]) or f"git {args[0]} exited {done.returncode}")
        return done.stdout


def _git_env() -> dict[str, str]:
    """Never a prompt (no terminal behind a service): credentials come from the environment or an SSH key."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", LC_ALL="C")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15")
    return env
