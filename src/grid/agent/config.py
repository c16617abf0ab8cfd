"""What an agent follows and how: one frozen value from flags, environment (GRID_AGENT_<FIELD>) or a YAML file.

Flags win over the environment, the environment over the file. The database password never appears here:
PostgreSQL state takes it from PGPASSWORD (or ~/.pgpass), so a location with a password in it is refused.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grid.errors import GridError

Policy = Literal["apply", "drift-only", "plan-approval"]
ENV_PREFIX = "GRID_AGENT_"


class AgentConfigError(GridError):
    """The agent's configuration cannot be used; the message says which setting, from where, and why."""


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class AgentConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    repo: str = Field(min_length=1)  # URL or path of the git remote holding the spec
    branch: str = "main"
    path: str = Field(min_length=1)  # the spec's path inside the repository
    regions: tuple[str, ...] = ()  # () = the whole cluster
    policy: Policy = "apply"
    interval: float = Field(60.0, gt=0)  # seconds between fetches
    drift_interval: float = Field(600.0, gt=0)  # seconds between drift checks
    jitter: float = Field(0.1, ge=0, lt=1)  # each wait is interval * (1 +- jitter), so agents do not tick together
    state: str | None = None  # where state lives (grid.state.open_store); None = state.json in the workdir
    workdir: Path = Path(".grid-agent")
    name: str = Field(default_factory=default_name, min_length=1)
    listen: str = "127.0.0.1:0"  # host:port of /metrics and /healthz; port 0 = any free port
    lease_seconds: float = Field(30.0, gt=0)
    require_signed: bool = False
    allowed_signers: Path | None = None  # git's gpg.ssh.allowedSignersFile format
    plan_file: str | None = None  # policy plan-approval: the approved plan's path in the repo (default <path>.plan)
    log_format: Literal["json", "text"] = "json"

    @field_validator("regions", mode="before")
    @classmethod
    def _split_regions(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: "east,west"
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("path", "plan_file")
    @classmethod
    def _inside_repo(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in Path(value).parts):
            raise ValueError("must be a relative path inside the repository (no leading /, no ..)")
        return value

    @field_validator("branch")
    @classmethod
    def _branch_name(cls, value: str) -> str:
        if not value or value.startswith("-") or any(c in value for c in " ~^:?*[\\") or ".." in value:
            raise ValueError(f"{value!r} is not a git branch name")
        return value

    @field_validator("repo")
    @classmethod
    def _repo_not_option(cls, value: str) -> str:
        if value.startswith("-"):
            raise ValueError("a repository URL or path cannot start with '-'")
        return value

    @field_validator("name")
    @classmethod
    def _agent_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", value):
            raise ValueError(f"{value!r} cannot name an agent: use letters, digits, '.', '_' and '-'")
        return value

    @field_validator("state")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value and value.startswith(("postgres://", "postgresql://")) and urlsplit(value).password:
            raise ValueError("the location carries a password: remove it and give it in PGPASSWORD "
                             "(an EnvironmentFile for the service) or ~/.pgpass")
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:9464, port 0 = any free port)")
        return value

    @model_validator(mode="after")
    def _signers_when_signed(self) -> AgentConfig:
        if self.require_signed and self.allowed_signers is None:
            raise ValueError("require_signed needs allowed_signers: the file of signers whose commits are applied "
                             "(git's allowedSignersFile format: `EMAIL ssh-ed25519 AAAA…` per line)")
        if self.allowed_signers is not None and not self.allowed_signers.is_file():
            raise ValueError(f"allowed_signers {self.allowed_signers} is not a readable file")
        return self

    @property
    def listen_address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def source_id(self) -> str:
        """What this agent follows, `repo#branch:path`: two agents of one cluster must follow the same."""
        return f"{_without_password(self.repo)}#{self.branch}:{self.path}"

    @property
    def approved_plan_path(self) -> str:
        return self.plan_file or f"{self.path}.plan"


FIELDS = tuple(AgentConfig.model_fields)


def _without_password(url: str) -> str:
    """A URL as it may be shown and recorded: a password or token in it replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=f"{parts.username or ''}:***@{parts.hostname or ''}"
                          + (f":{parts.port}" if parts.port else "")).geturl()


def load_config(flags: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                file: Path | None = None) -> AgentConfig:
    """The configuration from flags (None = not given) over GRID_AGENT_* over the YAML file."""
    environment = os.environ if env is None else env
    origins: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, value in _file_values(file).items():
        values[key], origins[key] = value, f"{file}"
    for key in FIELDS:
        name = ENV_PREFIX + key.upper()
        if environment.get(name, "") != "":
            values[key], origins[key] = environment[name], f"environment {name}"
    for key, value in flags.items():
        if value is None or (isinstance(value, tuple | list) and not value):
            continue
        if key not in FIELDS:
            raise AgentConfigError(f"unknown agent setting {key!r}")
        values[key], origins[key] = value, f"--{key.replace('_', '-')}"
    try:
        config = AgentConfig.model_validate(values)
    except ValidationError as exc:
        raise AgentConfigError("the agent's configuration is not usable:\n" + _problems(exc, origins),
                               hint="fix these settings (flags override GRID_AGENT_* which override --config)"
                               ) from None
    return config.model_copy(update={"workdir": config.workdir.absolute()} | (
        {"allowed_signers": config.allowed_signers.absolute()} if config.allowed_signers else {}))


def _file_values(file: Path | None) -> dict[str, Any]:
    if file is None:
        return {}
    try:
        loaded = yaml.safe_load(file.read_text())
    except OSError as exc:
        raise AgentConfigError(f"cannot read the agent configuration {file}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise AgentConfigError(f"{file} is not valid YAML: {exc}", hint="see examples/agent/agent.yaml") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise AgentConfigError(f"{file} must be a mapping of settings (e.g. `repo: …`)",
                               hint="see examples/agent/agent.yaml")
    unknown = sorted(str(k) for k in loaded if k not in FIELDS)
    if unknown:
        raise AgentConfigError(f"{file}: unknown setting(s) {', '.join(unknown)}",
                               hint="known settings: " + ", ".join(FIELDS))
    return {str(k): v for k, v in loaded.items()}


def _problems(exc: ValidationError, origins: Mapping[str, str]) -> str:
    lines = []
    for problem in exc.errors():
        key = str(problem["loc"][0]) if problem["loc"] else ""
        where = f" (from {origins[key]})" if key in origins else ""
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = (f"is required: give --{key.replace('_', '-')}, {ENV_PREFIX}{key.upper()} "
                       f"or `{key}:` in the --config file")
        lines.append(f"  {key or 'config'}{where}: {message}")
    return "\n".join(lines)
