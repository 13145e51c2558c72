"""Throwaway Redis servers for the tests: one standalone server, or a three-master
Redis Cluster, on free loopback ports, without persistence, in a temporary directory.

Both need ``redis-server`` (and the cluster ``redis-cli``) on the PATH.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mirakuru import TCPExecutor

__all__ = ["LocalRedis", "LocalRedisCluster", "TLSFiles", "make_tls_files", "redis_binaries_missing"]

HOST = "127.0.0.1"
_BUS_OFFSET = 10_000  # a cluster node also listens on its port + 10000


def redis_binaries_missing() -> str | None:
    """Why these servers cannot run here, or ``None`` when they can."""
    for binary in ("redis-server", "redis-cli"):
        if shutil.which(binary) is None:
            return f"{binary} is not on the PATH"
    return None


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway certificate authority and a server certificate for 127.0.0.1."""

    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TLSFiles:
    """Make a CA and a server certificate it signed (valid for IP 127.0.0.1) with the
    ``openssl`` command; :class:`RuntimeError` when it is not on the PATH."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not on the PATH")
    files = TLSFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    (directory / "san.ext").write_text(f"subjectAltName=IP:{HOST}\n")
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=wsgisession test CA",
         "-keyout", str(directory / "ca.key"), "-out", str(files.ca)],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST}",
         "-keyout", str(files.key), "-out", str(directory / "server.csr")],
        ["x509", "-req", "-days", "2", "-in", str(directory / "server.csr"), "-CA", str(files.ca),
         "-CAkey", str(directory / "ca.key"), "-CAcreateserial", "-extfile", str(directory / "san.ext"),
         "-out", str(files.cert)],
    ):  # fmt: skip
        subprocess.run(["openssl", *command], capture_output=True, check=True, timeout=60)
    return files


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port(cluster: bool = False) -> int:
    """A loopback port nothing listens on (and, for a cluster node, its bus port too)."""
    for _ in range(200):
        port = random.randint(20_000, 30_000)
        if _port_is_free(port) and (not cluster or _port_is_free(port + _BUS_OFFSET)):
            return port
    raise RuntimeError("found no free loopback port")


class LocalRedis:
    """One redis-server on ``port`` (a free one by default), its files in ``directory``.

    ``restart()`` keeps the port and, for a cluster node, its identity and slots; the
    data is gone, as it would be after a crash without persistence.
    """

    def __init__(
        self, directory: Path, port: int | None = None, cluster: bool = False, tls: TLSFiles | None = None
    ) -> None:
        self.directory = directory
        self.cluster = cluster
        self.tls = tls  # with it, the port speaks TLS only
        self.port = port or free_port(cluster)
        self.unix_socket = directory / f"redis-{self.port}.sock"
        self._executor: TCPExecutor | None = None

    @property
    def address(self) -> str:
        """``host:port``, as the store names the server."""
        return f"{HOST}:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        command = [
            "redis-server",
            "--bind", HOST,
            "--port", "0" if self.tls else str(self.port),
            "--unixsocket", str(self.unix_socket),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / f"redis-{self.port}.log"),
        ]  # fmt: skip
        if self.tls:
            command += [
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.cert),
                "--tls-key-file", str(self.tls.key),
                "--tls-ca-cert-file", str(self.tls.ca),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        if self.cluster:
            command += [
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{self.port}.conf",
                "--cluster-node-timeout", "5000",
                # The other masters keep serving their slots while one is down.
                "--cluster-require-full-coverage", "no",
            ]  # fmt: skip
        executor = TCPExecutor(command, HOST, self.port, timeout=20, stdout=subprocess.DEVNULL)
        executor.start()
        self._executor = executor

    def stop(self) -> None:
        """Stop the server (a no-op when it is not running)."""
        if self._executor is not None:
            self._executor.stop()
            self._executor = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it keeps its connections but answers nothing."""
        assert self._executor is not None and self._executor.process is not None
        os.kill(self._executor.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT)."""
        assert self._executor is not None and self._executor.process is not None
        os.kill(self._executor.process.pid, signal.SIGCONT)

    def restart(self) -> None:
        """Stop the server and start it again on the same port."""
        self.stop()
        self.start()

    def cli(self, *args: str) -> str:
        """Run ``redis-cli`` against this server and return its output."""
        result = subprocess.run(
            ["redis-cli", "-h", HOST, "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return result.stdout


class LocalRedisCluster:
    """Three masters, no replicas, every slot assigned: ``start()`` then ``stop()``."""

    def __init__(self, size: int = 3) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="wsgisession-redis-cluster-"))
        self.nodes = [LocalRedis(self.directory, cluster=True) for _ in range(size)]

    @property
    def url(self) -> str:
        """A ``redis+cluster://`` URL naming every node."""
        return "redis+cluster://" + ",".join(node.address for node in self.nodes)

    def start(self) -> None:
        """Start the nodes, join them into one cluster and wait until it serves."""
        try:
            for node in self.nodes:
                node.start()
            addresses = [node.address for node in self.nodes]
            subprocess.run(
                ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True,
                timeout=60,
                check=True,
            )
            self.wait_until_ok()
        except BaseException:
            self.stop()
            raise

    def wait_until_ok(self, timeout: float = 30.0) -> None:
        """Wait until every node reports ``cluster_state:ok`` and knows all the others."""
        deadline = time.monotonic() + timeout
        while True:
            infos = [node.cli("cluster", "info") for node in self.nodes]
            if all("cluster_state:ok" in info and f"cluster_known_nodes:{len(self.nodes)}" in info for info in infos):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis Cluster did not become ready: {infos}")
            time.sleep(0.1)

    def node_of(self, key: str) -> LocalRedis:
        """The node that holds ``key``'s slot."""
        slot = int(self.nodes[0].cli("cluster", "keyslot", key))
        for node in self.nodes:
            for line in node.cli("cluster", "nodes").splitlines():
                fields = line.split()
                if "myself" not in fields[2]:
                    continue
                for span in fields[8:]:
                    first, _, last = span.partition("-")
                    if int(first) <= slot <= int(last or first):
                        return node
        raise LookupError(f"no node serves the slot of {key!r}")

    def move_slot(self, key: str, target: LocalRedis) -> None:
        """Move the slot of ``key``, with its keys, to ``target``, as a reshard would."""
        source = self.node_of(key)
        slot = self.nodes[0].cli("cluster", "keyslot", key).strip()
        source_id, target_id = source.cli("cluster", "myid").strip(), target.cli("cluster", "myid").strip()
        target.cli("cluster", "setslot", slot, "importing", source_id)
        source.cli("cluster", "setslot", slot, "migrating", target_id)
        while keys := source.cli("cluster", "getkeysinslot", slot, "100").split():
            source.cli("migrate", HOST, str(target.port), "", "0", "5000", "keys", *keys)
        for node in self.nodes:
            node.cli("cluster", "setslot", slot, "node", target_id)

    def stop(self) -> None:
        """Stop every node and remove their files."""
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
