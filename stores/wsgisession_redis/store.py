"""RedisStore: sessions in Redis, one server or a Redis Cluster, on redis-py.

Every protocol call is one round trip: ``load`` is a GET, a create is SET NX with an
expiry, a conditional save and a touch are each one Lua script (sent by SHA once the
server knows it), ``delete`` is an UNLINK. Nothing on this path uses WATCH or MULTI, so
busy sessions never spin in retry loops.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from redis.exceptions import (
    ClusterDownError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wsgisession.store import Record, StoreError, StoreUnavailable, VersionConflict, new_version
from wsgisession.urls import parse_store_url

from . import _record
from ._clients import Client, Connect, client_from_url

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

DEFAULT_PREFIX = "wsgisession:"
_SCAN_BATCH = 1000
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ClusterDownError, SlotNotCoveredError, RedisClusterException)


_SAVE_SHA = hashlib.sha1(_record.SAVE_SCRIPT.encode()).hexdigest()
_TOUCH_SHA = hashlib.sha1(_record.TOUCH_SCRIPT.encode()).hexdigest()


@dataclass(frozen=True)
class _Connection:
    pid: int
    client: Client


class RedisStore:
    """Sessions in Redis, each one string under ``prefix`` + key.

    ``connect`` builds the redis-py client (a ``Redis`` or a ``RedisCluster``); the store
    calls it in each process on first use, so a pre-forking server's workers never share
    a socket. ``server`` names the server in :class:`StoreUnavailable` errors. Most
    applications use :meth:`from_url` instead; pass ``connect`` yourself for what URLs do
    not cover (Sentinel, say), and configure the client's retries and timeouts so that a
    call cannot outlast the time a request may wait.
    """

    def __init__(self, connect: Connect, server: str = "redis", prefix: str = DEFAULT_PREFIX) -> None:
        self.connect = connect
        self.server = server
        self.prefix = prefix
        self._lock = threading.Lock()
        self._connection: _Connection | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Build from ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS),
        ``unix:///path/to/redis.sock?db=0`` or ``redis+cluster://host:port[,host:port...]``.

        Options: ``prefix`` (default ``wsgisession:``), ``timeout`` (seconds a call may
        take before :class:`StoreUnavailable`, default 2; in a cluster a call makes up to
        two attempts of half that), ``connect_timeout`` (default ``timeout``),
        ``max_connections`` (the pool's size, default 50; per node and unbounded by
        default in a cluster); with TLS ``ssl_cert_reqs``, ``ssl_ca_certs``,
        ``ssl_certfile``, ``ssl_keyfile``; for a cluster ``ssl=true`` turns TLS on.
        """
        parsed = parse_store_url(url)
        prefix = parsed.text("prefix", DEFAULT_PREFIX)
        if parsed.scheme == "redis+cluster" and _has_hash_tag(prefix):
            raise ValueError(
                f"Redis Cluster key prefix {prefix!r} holds a {{hash tag}}: every session would "
                "live in one slot on one node; remove the braces"
            )
        server, connect = client_from_url(parsed)
        parsed.finish()
        return cls(connect, server, prefix)

    def load(self, key: str) -> Record | None:
        """Return the live record under ``key``: one GET."""
        connection = self._connected()
        with self._errors():
            value: bytes | None = connection.client.get(self.prefix + key)
        if value is None:
            return None
        record = _record.unpack(self.prefix + key, value)
        return record if record.expires_at > time.time() else None

    def save(self, key: str, data: bytes, ttl: int, version: int | None = None) -> int:
        """Create with SET NX (``version=None``), or replace only the given version with
        one script that checks it and writes the data, the new version and the expiry."""
        milliseconds = _milliseconds(ttl)
        connection = self._connected()
        now = time.time()
        new = new_version()
        value = _record.pack(new, now + ttl, data)
        with self._errors():
            if version is None:
                done = connection.client.set(self.prefix + key, value, nx=True, px=milliseconds)
            else:
                args = (_record.pack_version(version), repr(now), value, milliseconds)
                done = _script(connection.client, _SAVE_SHA, _record.SAVE_SCRIPT, self.prefix + key, *args)
        if not done:
            raise VersionConflict(f"session record {key!r} already exists, changed or vanished")
        return new

    def touch(self, key: str, ttl: int) -> bool:
        """Move the expiry of a live record with one script that rewrites only the
        header's expiry and the key's own, never the data."""
        milliseconds = _milliseconds(ttl)
        connection = self._connected()
        now = time.time()
        args = (repr(now), _record.pack_expiry(now + ttl), milliseconds)
        with self._errors():
            return bool(_script(connection.client, _TOUCH_SHA, _record.TOUCH_SCRIPT, self.prefix + key, *args))

    def delete(self, key: str) -> None:
        """Remove the record if present."""
        connection = self._connected()
        with self._errors():
            connection.client.unlink(self.prefix + key)

    def count(self) -> int:
        """Number of records under this store's prefix, by SCAN on every master."""
        return sum(len(batch) for batch in self._scan())

    def clear(self) -> None:
        """Delete every record under this store's prefix, and nothing else."""
        connection = self._connected()
        for batch in self._scan():
            with self._errors():
                # A cluster client splits the keys by slot and sends each group to its node.
                connection.client.unlink(*batch)

    def close(self) -> None:
        """Close this process's connections; the next call reconnects."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None and connection.pid == os.getpid():
            connection.client.close()

    def _scan(self) -> Iterator[list[bytes]]:
        client = self._connected().client
        pattern = _GLOB_SPECIAL.sub(r"\\\1", self.prefix) + "*"
        batch: list[bytes] = []
        with self._errors():
            # A cluster client's SCAN visits every primary in turn.
            for found in client.scan_iter(match=pattern, count=_SCAN_BATCH):
                batch.append(found)
                if len(batch) >= _SCAN_BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _connected(self) -> _Connection:
        connection = self._connection
        if connection is not None and connection.pid == os.getpid():
            return connection
        with self._lock:
            connection = self._connection
            if connection is None or connection.pid != os.getpid():
                # A client inherited over fork() is left alone: its sockets are the parent's.
                with self._errors():
                    client = self.connect()
                connection = self._connection = _Connection(os.getpid(), client)
            return connection

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(self.server, exc) from exc
        except RedisError as exc:
            raise StoreError(f"Redis session store at {self.server}: {exc}") from exc


def _script(client: Client, sha: str, source: str, key: str, *args: str | bytes | int) -> Any:
    # One round trip once the server knows the script. A server that does not (new,
    # restarted, or a node that just took over the slot) answers NOSCRIPT once, and EVAL
    # runs the script and caches it there. In a cluster the key routes both.
    try:
        return client.evalsha(sha, 1, key, *args)
    except NoScriptError:
        return client.eval(source, 1, key, *args)


def _milliseconds(ttl: int) -> int:
    if ttl <= 0:
        raise ValueError(f"session ttl must be a positive number of seconds, not {ttl}")
    return ttl * 1000


def _has_hash_tag(prefix: str) -> bool:
    # Redis Cluster hashes only what lies between the first "{" and the next "}", if that
    # is not empty; the hex key after the prefix holds no braces.
    start = prefix.find("{")
    return start >= 0 and prefix.find("}", start + 1) > start + 1
