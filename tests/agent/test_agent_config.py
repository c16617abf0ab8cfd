"""grid.agent.config: flags over GRID_AGENT_* over the file; bad settings are named with where they came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.agent.config import AgentConfigError, load_config


def write(tmp: Path, text: str) -> Path:
    path = tmp / "agent.yaml"
    path.write_text(text)
    return path


def test_flags_win_over_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    file = write(tmp_path, "repo: /from-file.git\npath: c.yaml\ninterval: 5\npolicy: drift-only\nregions: [east]\n")
    env = {"GRID_AGENT_INTERVAL": "7", "GRID_AGENT_BRANCH": "prod", "GRID_AGENT_REGIONS": "east,west"}
    config = load_config({"interval": 9.0, "regions": ()}, env=env, file=file)
    assert config.interval == 9.0  # flag
    assert config.branch == "prod" and config.regions == ("east", "west")  # environment (an empty flag is unset)
    assert config.repo == "/from-file.git" and config.policy == "drift-only"  # file
    assert config.workdir.is_absolute()
    assert config.source_id == "/from-file.git#prod:c.yaml"
    assert config.approved_plan_path == "c.yaml.plan"


def test_defaults(tmp_path: Path) -> None:
    config = load_config({"repo": "https://git.example/x.git", "path": "clusters/prod.yaml"}, env={})
    assert (config.branch, config.policy, config.regions, config.listen) == ("main", "apply", (), "127.0.0.1:0")
    assert config.listen_address == ("127.0.0.1", 0) and config.name


@pytest.mark.parametrize(("flags", "env", "says"), [
    ({"path": "c.yaml"}, {}, "repo: is required: give --repo, GRID_AGENT_REPO"),
    ({"repo": "/r", "path": "c.yaml"}, {"GRID_AGENT_INTERVAL": "soon"},
     "interval (from environment GRID_AGENT_INTERVAL)"),
    ({"repo": "/r", "path": "c.yaml", "policy": "yolo"}, {}, "policy (from --policy)"),
    ({"repo": "/r", "path": "../c.yaml"}, {}, "relative path inside the repository"),
    ({"repo": "/r", "path": "c.yaml", "jitter": 2}, {}, "jitter (from --jitter)"),
    ({"repo": "/r", "path": "c.yaml", "listen": "9464"}, {}, "is not host:port"),
    ({"repo": "/r", "path": "c.yaml", "require_signed": True}, {}, "require_signed needs allowed_signers"),
    ({"repo": "/r", "path": "c.yaml", "name": "a b"}, {}, "cannot name an agent"),
    ({"repo": "--upload-pack=x", "path": "c.yaml"}, {}, "cannot start with '-'"),
])
def test_bad_settings_are_diagnosed(flags: dict[str, object], env: dict[str, str], says: str) -> None:
    with pytest.raises(AgentConfigError) as raised:
        load_config(flags, env=env)
    assert says in raised.value.message


def test_a_password_in_the_state_location_is_refused_and_not_repeated() -> None:
    with pytest.raises(AgentConfigError) as raised:
        load_config({"repo": "/r", "path": "c.yaml"}, env={"GRID_AGENT_STATE": "postgres://grid:s3cret@db/grid"})
    assert "PGPASSWORD" in raised.value.message and "s3cret" not in raised.value.message


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match="unknown setting"):
        load_config({}, env={}, file=write(tmp_path, "repo: /r\npth: c.yaml\n"))
    with pytest.raises(AgentConfigError, match="not valid YAML"):
        load_config({}, env={}, file=write(tmp_path, "repo: [\n"))
    with pytest.raises(AgentConfigError, match="must be a mapping"):
        load_config({}, env={}, file=write(tmp_path, "- repo\n"))
    with pytest.raises(AgentConfigError, match="cannot read"):
        load_config({}, env={}, file=tmp_path / "missing.yaml")


def test_allowed_signers_must_exist(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match="not a readable file"):
        load_config({"repo": "/r", "path": "c.yaml", "require_signed": True,
                     "allowed_signers": tmp_path / "nope"}, env={})
    signers = tmp_path / "allowed_signers"
    signers.write_text("ops@example.test ssh-ed25519 AAAA\n")
    config = load_config({"repo": "/r", "path": "c.yaml"}, env={"GRID_AGENT_REQUIRE_SIGNED": "true",
                                                                "GRID_AGENT_ALLOWED_SIGNERS": str(signers)})
    assert config.require_signed and config.allowed_signers == signers


def test_a_token_in_the_repo_url_is_not_recorded() -> None:
    config = load_config({"repo": "https://bot:t0ken@git.example/x.git", "path": "c.yaml"}, env={})
    assert config.source_id == "https://bot:***@git.example/x.git#main:c.yaml"


def test_the_example_configuration_loads(tmp_path: Path) -> None:
    from support.paths import EXAMPLES

    signers = tmp_path / "allowed_signers"
    signers.write_text("ops@example.test ssh-ed25519 AAAA\n")
    config = load_config({"allowed_signers": signers}, env={}, file=EXAMPLES / "agent" / "agent.yaml")
    assert config.regions == ("ningxia",) and config.require_signed and config.policy == "apply"
