"""MemcachedStore: sessions in one memcached server or several, through pymemcache."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from wsgisession.store import Record, VersionConflict, new_version
from wsgisession.urls import parse_store_url

from .cluster import DEAD_POLICIES, Cluster, Node, Options
from .wire import decode, encode, exptime, key_pattern, meta_get

__all__ = ["MemcachedStore"]

DEFAULT_PORT = 11211
_T = TypeVar("_T")
_TOKEN_CACHE_SIZE = 4096


class MemcachedStore:
    """Sessions in memcached: ``servers`` is ``"host:port"`` strings or ``(host, port)``
    pairs; with several, each key lives on one of them (rendezvous hashing).

    One round trip per call: ``load`` is a meta get (data, CAS token and remaining
    time to live at once), a create is ``add``, a conditional save is ``cas`` with the
    token its ``load`` saw, ``touch`` is TOUCH, ``delete`` is DELETE. memcached keeps
    time in whole seconds, so a record may end up to a second before its ``ttl``,
    never after; memcached never serves an item past its expiry.

    ``connect_timeout`` and ``timeout`` bound every call, after which it raises
    :class:`~wsgisession.store.StoreUnavailable` naming ``host:port``.
    ``max_pool_size`` caps the connections to each node (a call waits up to
    ``timeout`` for one); by default there is one per thread that needs one.
    ``dead`` says what a failed node means for the sessions it holds, for
    ``dead_timeout`` seconds, after which it is tried again: ``"raise"`` (they raise
    ``StoreUnavailable`` at once; the other nodes' sessions work) or ``"forget"``
    (their keys move to the next node, where they are absent, so those sessions
    start over and new ones are saved there).

    Nothing connects until the first call, in each process that makes one.
    """

    def __init__(
        self,
        servers: str | Sequence[str | tuple[str, int]] = "127.0.0.1:11211",
        *,
        prefix: str = "",
        connect_timeout: float = 1.0,
        timeout: float = 1.0,
        max_pool_size: int | None = None,
        dead: str = "raise",
        dead_timeout: float = 5.0,
    ) -> None:
        self.servers = _parse_servers(servers)
        self._keys = key_pattern(prefix)
        if dead not in DEAD_POLICIES:
            raise ValueError(f"MemcachedStore dead={dead!r} must be one of {', '.join(DEAD_POLICIES)}")
        if min(connect_timeout, timeout, dead_timeout) <= 0:
            raise ValueError("MemcachedStore timeouts must be more than 0 seconds")
        if max_pool_size is not None and max_pool_size < 1:
            raise ValueError("MemcachedStore max_pool_size must be at least 1")
        self.prefix = prefix
        self.options = Options(connect_timeout, timeout, max_pool_size, dead, dead_timeout)
        self._lock = threading.Lock()
        self._cluster: Cluster | None = None
        self._pid = 0
        # key -> (version, node name, CAS token) as the last load saw them, so that a
        # conditional save costs one round trip (cas) instead of two (gets, cas).
        self._tokens: dict[str, tuple[int, str, int]] = {}

    @classmethod
    def from_url(cls, url: str) -> MemcachedStore:
        """Build from ``memcached://host:port[,host:port...]`` with options ``prefix``,
        ``connect_timeout``, ``timeout``, ``max_pool_size``, ``dead`` (``raise`` or
        ``forget``) and ``dead_timeout``; the port defaults to 11211."""
        parsed = parse_store_url(url, default_port=DEFAULT_PORT)
        if not parsed.hosts:
            raise ValueError(f"memcached URL {url!r} names no server; write e.g. memcached://127.0.0.1:11211")
        if parsed.path or parsed.username is not None:
            raise ValueError(f"memcached URL {parsed.redacted()!r} takes no path and no credentials")
        pool_size = parsed.integer("max_pool_size", 0, minimum=1)
        store = cls(
            [(host, port or DEFAULT_PORT) for host, port in parsed.hosts],
            prefix=parsed.text("prefix", ""),
            connect_timeout=parsed.seconds("connect_timeout", 1.0),
            timeout=parsed.seconds("timeout", 1.0),
            max_pool_size=pool_size or None,
            dead=parsed.choice("dead", "raise", DEAD_POLICIES),
            dead_timeout=parsed.seconds("dead_timeout", 5.0),
        )
        parsed.finish()
        return store

    def load(self, key: str) -> Record | None:
        """Return the live record under ``key``."""
        full = self._full_key(key)
        name, got = self._call(full, lambda node: (node.name, meta_get(node.client, full.encode())))
        if got is None:
            self._tokens.pop(full, None)
            return None
        value, token, ttl = got
        version, data = decode(full, value)
        self._remember(full, (version, name, token))
        return Record(data, version, math.inf if ttl < 0 else time.time() + ttl)

    def save(self, key: str, data: bytes, ttl: int, version: int | None = None) -> int:
        """Create (``version=None``, memcached ``add``) or conditionally replace
        (``cas``) the record; raise :class:`VersionConflict` if that fails."""
        full = self._full_key(key)
        new = new_version()
        value = encode(new, data)
        expire = exptime(ttl, time.time())
        if version is None:
            stored = self._call(full, lambda node: node.client.add(full, value, expire=expire, noreply=False))
        else:
            stored = self._call(full, lambda node: self._replace(node, full, value, expire, version))
        if not stored:
            raise VersionConflict(f"session record {key!r} already exists, changed or vanished")
        return new

    def touch(self, key: str, ttl: int) -> bool:
        """Move the expiry with memcached's TOUCH, which keeps the data and CAS token."""
        full = self._full_key(key)
        expire = exptime(ttl, time.time())
        return bool(self._call(full, lambda node: node.client.touch(full, expire=expire, noreply=False)))

    def delete(self, key: str) -> None:
        """Remove the record if present; wait for memcached's answer, so that a logout
        is done before its response leaves."""
        full = self._full_key(key)
        self._tokens.pop(full, None)
        self._call(full, lambda node: node.client.delete(full, noreply=False))

    def close(self) -> None:
        """Close this process's connections; later calls reconnect."""
        with self._lock:
            cluster, self._cluster = self._cluster, None
            self._tokens = {}
        if cluster is not None and self._pid == os.getpid():
            cluster.close()

    def _replace(self, node: Node, full: str, value: bytes, expire: int, version: int) -> bool:
        seen = self._tokens.pop(full, None)
        if seen is not None and seen[:2] == (version, node.name):
            # None: the record is gone; False: its CAS token moved, which only a write
            # does (memcached's TOUCH keeps the token), so another request saved first.
            return node.client.cas(full, value, seen[2], expire=expire, noreply=False) is True
        got = meta_get(node.client, full.encode())
        if got is None or decode(full, got[0])[0] != version:
            return False
        return node.client.cas(full, value, got[1], expire=expire, noreply=False) is True

    def _remember(self, full: str, seen: tuple[int, str, int]) -> None:
        if len(self._tokens) >= _TOKEN_CACHE_SIZE:
            self._tokens = {}
        self._tokens[full] = seen

    def _full_key(self, key: str) -> str:
        if not self._keys.fullmatch(key):
            raise ValueError(f"session key {key!r} is not a valid memcached key under prefix {self.prefix!r}")
        return self.prefix + key

    def _call(self, full: str, op: Callable[[Node], _T]) -> _T:
        return self._nodes().call(full, op)

    def _nodes(self) -> Cluster:
        cluster, pid = self._cluster, os.getpid()
        if cluster is not None and self._pid == pid:
            return cluster
        with self._lock:
            if self._cluster is None or self._pid != pid:
                # A cluster inherited over fork() holds the parent's sockets: never use them.
                self._cluster, self._pid, self._tokens = Cluster(self.servers, self.options), pid, {}
            return self._cluster


def _parse_servers(servers: str | Sequence[str | tuple[str, int]]) -> list[tuple[str, int]]:
    items = [servers] if isinstance(servers, str) else list(servers)
    result: list[tuple[str, int]] = []
    for item in items:
        if isinstance(item, tuple):
            result.append(item)
            continue
        for host, port in parse_store_url(f"memcached://{item}", DEFAULT_PORT).hosts:
            result.append((host, port or DEFAULT_PORT))
    if not result:
        raise ValueError("MemcachedStore needs at least one server")
    return result
