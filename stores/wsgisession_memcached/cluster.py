"""The memcached nodes of one store in one process, and what a dead node means
(private to this package).

Keys go to nodes by rendezvous hashing, pymemcache's ``RendezvousHash`` over
``"host:port"`` names, so a key lands on the node pymemcache's ``HashClient`` would
pick for the same server list. Each node has a pymemcache ``PooledClient``, so threads
share connections safely.

This does not use ``HashClient`` itself: while a node is failing it returns defaults
(``None`` from ``gets``, ``False`` from ``add``) instead of raising, which would turn an
outage into lost sessions or false conflicts; it misses a server that closed its
connections (not an ``OSError``); and its failure bookkeeping is not thread-safe.

A node that fails is *down* for ``dead_timeout`` seconds. ``dead="raise"``: its keys
raise :class:`StoreUnavailable` at once, without waiting on a timeout. ``dead="forget"``:
its keys go to the next node in their rendezvous order, where they are absent, so those
sessions start over. After ``dead_timeout`` one call probes the node again; if it
answers, it is used again.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymemcache.client.base import PooledClient  # type: ignore[import-untyped]
from pymemcache.client.rendezvous import RendezvousHash  # type: ignore[import-untyped]
from pymemcache.exceptions import (  # type: ignore[import-untyped]
    MemcacheError,
    MemcacheUnexpectedCloseError,
    MemcacheUnknownCommandError,
)

from wsgisession.store import StoreError, StoreUnavailable

from .wire import MetaClient

__all__ = ["DEAD_POLICIES", "Cluster", "Node", "Options"]

T = TypeVar("T")

DEAD_POLICIES = ("raise", "forget")

# Errors on a connection the server had already closed (it restarted, or dropped an
# idle client): worth one retry on a fresh connection before calling the node dead.
_STALE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, MemcacheUnexpectedCloseError)


@dataclass(frozen=True)
class Options:
    """How a store talks to its nodes; see :class:`~wsgisession_memcached.MemcachedStore`."""

    connect_timeout: float
    timeout: float
    max_pool_size: int | None
    dead: str
    dead_timeout: float


@dataclass(eq=False)
class Node:
    """One memcached server: its ``name`` (``host:port``, IPv6 in brackets), its name
    on the hash ring (``HashClient``'s spelling), pooled ``client``, and ``down_until``
    (a ``time.monotonic()`` value; 0 while it is up)."""

    name: str
    ring_name: str
    client: Any
    slots: threading.BoundedSemaphore | None
    down_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _NodeDown(Exception):
    def __init__(self, node: Node, reason: str, timed_out: bool) -> None:
        super().__init__(reason)
        self.node = node
        self.reason = reason
        self.timed_out = timed_out


class Cluster:
    """The nodes of one store, for the process that built it."""

    def __init__(self, servers: list[tuple[str, int]], options: Options) -> None:
        self.options = options
        self.nodes = [self._node(host, port) for host, port in servers]
        self._by_name = {node.ring_name: node for node in self.nodes}
        self._ring = RendezvousHash([node.ring_name for node in self.nodes])

    def _node(self, host: str, port: int) -> Node:
        opts = self.options
        client = PooledClient(
            (host, port),
            connect_timeout=opts.connect_timeout,
            timeout=opts.timeout,
            no_delay=True,
            default_noreply=False,
        )
        client.client_class = MetaClient
        slots = threading.BoundedSemaphore(opts.max_pool_size) if opts.max_pool_size else None
        name = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return Node(name, f"{host}:{port}", client, slots)

    def call(self, key: str, op: Callable[[Node], T]) -> T:
        """Run ``op`` on the node that holds ``key``, applying the dead-node policy."""
        node = self._pick(key)
        try:
            return self._attempt(node, op)
        except _NodeDown as down:
            # A refused or reset connection fails at once, so forget can afford to move
            # this call to the next node; after a timeout the caller has waited enough.
            if self.options.dead == "forget" and not down.timed_out:
                fallback = self._fallback(key)
                if fallback is not None:
                    try:
                        return self._attempt(fallback, op)
                    except _NodeDown as again:
                        down = again
            raise StoreUnavailable(down.node.name, down.reason) from down

    def close(self) -> None:
        """Close every pooled connection; the pools reconnect when used again."""
        for node in self.nodes:
            node.client.close()

    def _pick(self, key: str) -> Node:
        node = self.nodes[0] if len(self.nodes) == 1 else self._by_name[self._ring.get_node(key)]
        if node.down_until and not self._may_use(node):
            fallback = self._fallback(key) if self.options.dead == "forget" else None
            if fallback is None:
                raise StoreUnavailable(node.name, f"it failed less than {self.options.dead_timeout:g}s ago")
            return fallback
        return node

    def _fallback(self, key: str) -> Node | None:
        """The first node, in ``key``'s rendezvous order, that is up (or due a probe)."""
        score = self._ring.hash_function
        ranked = sorted(self.nodes, key=lambda n: (score(f"{n.ring_name}-{key}"), n.ring_name), reverse=True)
        return next((n for n in ranked if not n.down_until or self._may_use(n)), None)

    def _may_use(self, node: Node) -> bool:
        """Whether a down node is due a probe; only one caller per period gets to probe."""
        with node.lock:
            now = time.monotonic()
            if not node.down_until:
                return True
            if now < node.down_until:
                return False
            node.down_until = now + self.options.dead_timeout
            return True

    def _attempt(self, node: Node, op: Callable[[Node], T]) -> T:
        try:
            try:
                result = self._run(node, op)
            except _STALE:
                result = self._run(node, op, fresh=True)
        except OSError as exc:
            self._mark_down(node)
            raise _NodeDown(node, str(exc) or type(exc).__name__, isinstance(exc, socket.timeout)) from exc
        except MemcacheUnexpectedCloseError as exc:
            self._mark_down(node)
            raise _NodeDown(node, "connection closed by the server", False) from exc
        except MemcacheUnknownCommandError as exc:
            self._answered(node)
            raise StoreError(f"memcached at {node.name} does not know meta commands; it must be 1.6 or later") from exc
        except MemcacheError as exc:
            self._answered(node)
            raise StoreError(f"memcached at {node.name}: {exc}") from exc
        self._answered(node)
        return result

    @staticmethod
    def _answered(node: Node) -> None:
        # Whatever it said, the server is there: a node probed after being down is up.
        if node.down_until:
            node.down_until = 0.0

    def _run(self, node: Node, op: Callable[[Node], T], fresh: bool = False) -> T:
        if fresh:
            # The idle connections were opened before the server went away; drop them
            # rather than meet them one failed request at a time.
            for client in node.client.client_pool.free:
                client.close()
        if node.slots is None:
            return op(node)
        if not node.slots.acquire(timeout=self.options.timeout):
            raise StoreUnavailable(node.name, f"all {self.options.max_pool_size} connections busy")
        try:
            return op(node)
        finally:
            node.slots.release()

    def _mark_down(self, node: Node) -> None:
        with node.lock:
            node.down_until = time.monotonic() + self.options.dead_timeout
