"""grid.agent.source against real git: a bare repo in tmp, commits signed with SSH keys made by ssh-keygen."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.agent.config import AgentConfig
from grid.agent.source import Fetched, FetchFailed, Refused, SpecSource
from support.gitrepo import Remote, allowed_signers, keypair


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


def config(tmp: Path, repo: str, **extra: object) -> AgentConfig:
    return AgentConfig.model_validate({"repo": repo, "path": "cluster.yaml", "workdir": tmp / "wd", **extra})


def test_fetch_materialises_the_commit_tree(tmp_path: Path, remote: Remote) -> None:
    sha = remote.commit({"cluster.yaml": "one\n", "roles/r/tasks/main.yml": "- x\n"})
    source = SpecSource(config(tmp_path, str(remote.bare)))
    fetched = source.fetch()
    assert isinstance(fetched, Fetched) and fetched.sha == sha
    assert fetched.file("cluster.yaml").read_text() == "one\n"
    assert (fetched.tree / "roles/r/tasks/main.yml").is_file()
    assert source.last_good() is None
    source.mark_good(fetched)
    assert source.last_good() == fetched
    newer = remote.commit({"cluster.yaml": "two\n"})
    again = source.fetch()
    assert isinstance(again, Fetched) and again.sha == newer and again.file("cluster.yaml").read_text() == "two\n"
    assert fetched.file("cluster.yaml").read_text() == "one\n"  # each commit keeps its own tree


def test_unreachable_remote_is_a_fetch_failed_and_the_last_good_stays(tmp_path: Path, remote: Remote) -> None:
    remote.commit({"cluster.yaml": "one\n"})
    source = SpecSource(config(tmp_path, str(remote.bare)))
    first = source.fetch()
    assert isinstance(first, Fetched)
    source.mark_good(first)
    remote.bare.rename(tmp_path / "gone.git")
    failed = SpecSource(config(tmp_path, str(remote.bare))).fetch()
    assert isinstance(failed, FetchFailed) and failed.reason
    assert source.last_good() == first


def test_missing_branch_is_a_fetch_failed(tmp_path: Path, remote: Remote) -> None:
    remote.commit({"cluster.yaml": "one\n"})
    failed = SpecSource(config(tmp_path, str(remote.bare), branch="nope")).fetch()
    assert isinstance(failed, FetchFailed) and "nope" in failed.reason


def signers(tmp: Path, key: Path) -> Path:
    return allowed_signers(tmp, key)


def test_signed_by_an_allowed_signer_is_accepted(tmp_path: Path, remote: Remote) -> None:
    key = keypair(tmp_path, "ops")
    sha = remote.commit({"cluster.yaml": "one\n"}, key=key)
    fetched = SpecSource(config(tmp_path, str(remote.bare), require_signed=True,
                                allowed_signers=signers(tmp_path, key))).fetch()
    assert isinstance(fetched, Fetched) and fetched.sha == sha


def test_unsigned_commit_is_refused(tmp_path: Path, remote: Remote) -> None:
    key = keypair(tmp_path, "ops")
    sha = remote.commit({"cluster.yaml": "one\n"})
    refused = SpecSource(config(tmp_path, str(remote.bare), require_signed=True,
                                allowed_signers=signers(tmp_path, key))).fetch()
    assert isinstance(refused, Refused) and refused.sha == sha
    assert "not signed" in refused.reason


def test_foreign_signer_is_refused(tmp_path: Path, remote: Remote) -> None:
    ops, stranger = keypair(tmp_path, "ops"), keypair(tmp_path, "stranger")
    remote.commit({"cluster.yaml": "one\n"}, key=stranger)
    refused = SpecSource(config(tmp_path, str(remote.bare), require_signed=True,
                                allowed_signers=signers(tmp_path, ops))).fetch()
    assert isinstance(refused, Refused)
    assert "allowed signer" in refused.reason
