"""A private PostgreSQL cluster for tests that stop and restart their server.

The shared server (127.0.0.1:5432) must be left alone, so such tests run a cluster
of their own: ``initdb`` into a temporary directory, served on a free loopback port.
PostgreSQL refuses to run as root; as root, every command runs as the ``postgres``
user (``runuser``), which owns the data directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


class ClusterUnavailable(Exception):
    """A private cluster cannot be set up here (no binaries, no ``postgres`` user)."""


def find_bin_dir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    for candidate in (os.environ.get("PG_BIN_DIR", ""), *BIN_DIRS):
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise ClusterUnavailable("pg_ctl not found (set PG_BIN_DIR)")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresCluster:
    """A throwaway cluster with trust authentication, user ``postgres``, on ``port``."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="wsgisession-pg-"))
        self.data_dir = self.root / "data"
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterUnavailable("running as root and there is no 'postgres' user") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._prefix = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        """The store URL of the ``postgres`` database, options to be appended."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        """Create the cluster's data directory."""
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.root / "server.log"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, roll back, shut down cleanly)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs, and delete the cluster."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [*self._prefix, str(self.bin_dir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr or result.stdout}")
