"""Servers the suite needs: its own memcached, and probes for PostgreSQL and Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

MEMCACHED = "/usr/bin/memcached"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Memcached:
    """A memcached of our own on a free loopback port, with ``megabytes`` of memory."""

    def __init__(self, megabytes: int = 1024) -> None:
        self.port = free_port()
        self.megabytes = megabytes
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str | None:
        """Start it; return ``None``, or why it could not start."""
        binary = shutil.which("memcached") or MEMCACHED
        if not os.path.exists(binary):
            return f"{MEMCACHED} is not installed (apt-get install memcached)"
        command = [binary, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", str(self.megabytes), "-t", "2"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if reachable("127.0.0.1", self.port, 0.2):
                return None
            if self.process.poll() is not None:
                return f"memcached exited with status {self.process.returncode}"
            time.sleep(0.05)
        self.stop()
        return "memcached did not listen within 5 s"

    def stop(self) -> None:
        """Stop it and wait for it to go."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
