"""Real memcached processes for the tests, each on a free loopback port.

``MemcachedServer().start()`` runs ``memcached`` (found on PATH or in /usr/bin) through
mirakuru, which returns once the port accepts connections. ``kill()`` ends it the way
a crash would (SIGKILL); ``start()`` again brings it back on the same port, empty.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from mirakuru import TCPExecutor

__all__ = ["MemcachedServer", "find_memcached", "free_port", "memcached_servers"]

HOST = "127.0.0.1"


def find_memcached() -> str | None:
    """The memcached binary, or None when it is not installed."""
    return shutil.which("memcached") or next((p for p in ("/usr/bin/memcached",) if os.path.exists(p)), None)


def free_port(host: str = HOST) -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class _Executor(TCPExecutor):
    """mirakuru's TCPExecutor checks with an IPv4 socket; this one also reaches ``::1``."""

    def pre_start_check(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def after_start_check(self) -> bool:
        return self.pre_start_check()


class MemcachedServer:
    """One memcached process on ``host:port`` (``127.0.0.1`` or ``::1``)."""

    def __init__(self, binary: str, port: int | None = None, memory_mb: int = 64, host: str = HOST) -> None:
        self.host = host
        self.port = port or free_port(host)
        command = [binary, "-l", host, "-p", str(self.port), "-U", "0", "-t", "2", "-m", str(memory_mb)]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # memcached refuses to run as root
        self._executor = _Executor(command, host=host, port=self.port, timeout=10)

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets), as stores and StoreUnavailable name it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> MemcachedServer:
        """Start the process and wait until it accepts connections."""
        self._executor.start()
        return self

    def kill(self) -> None:
        """End the process abruptly, as a crash would."""
        self._executor.kill()

    def stop(self) -> None:
        """End the process if it runs."""
        if self._executor.running():
            self._executor.stop()


@contextmanager
def memcached_servers(binary: str, count: int) -> Iterator[list[MemcachedServer]]:
    """Start ``count`` servers, and stop them all afterwards."""
    servers: list[MemcachedServer] = []
    try:
        for _ in range(count):
            servers.append(MemcachedServer(binary).start())
        yield servers
    finally:
        for server in servers:
            server.stop()
