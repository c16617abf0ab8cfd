"""A throw-away PostgreSQL server on loopback for tests: initdb into a temporary directory, pg_ctl start, stop.

As root the server runs as the `postgres` OS user (PostgreSQL refuses to run as root). The superuser `grid`
has a password and host connections need it (scram-sha-256), so tests also see that grid never shows it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("GRID_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "grid"
PASSWORD = "s3cret-" + uuid.uuid4().hex[:12]


def missing_reason() -> str | None:
    """Why no server can be started here, or None when one can."""
    for name in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / name).is_file():
            return f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql; scripts/setup.sh does)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs `runuser` to start PostgreSQL as the postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    root: Path
    port: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, check=False, timeout=120,
                              cwd=self.root)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        done = self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                         "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
        pwfile.unlink()
        self.port = _free_port()
        self.restart()

    def restart(self) -> None:
        """Start the server again (same data, same port) after `stop`."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
        done = self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                         "-o", options, "-w", "-t", "60", "start")
        if done.returncode != 0:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}\n{log}")

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgres://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL (with the password)."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:10]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
