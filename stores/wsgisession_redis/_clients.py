"""Building redis-py clients from store URLs.

Nothing here connects: each function returns a ``connect`` callable that the store
calls once per process, on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

from redis import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from wsgisession.urls import StoreURL

__all__ = ["Client", "Connect", "client_from_url"]


class Client(Protocol):
    """The part of redis-py's ``Redis`` and ``RedisCluster`` that the store uses."""

    def get(self, name: str) -> Any:
        """GET."""

    def set(self, name: str, value: bytes, *, nx: bool, px: int) -> Any:
        """SET with NX and PX."""

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: str | bytes | int) -> Any:
        """EVALSHA."""

    def eval(self, script: str, numkeys: int, *keys_and_args: str | bytes | int) -> Any:
        """EVAL."""

    def unlink(self, *names: str | bytes) -> Any:
        """UNLINK."""

    def scan_iter(self, match: str, count: int) -> Iterator[Any]:
        """SCAN over the whole keyspace (every primary of a cluster)."""

    def close(self) -> None:
        """Close the client's connections."""


Connect = Callable[[], Client]
"""Builds a client; called once per process."""

DEFAULT_PORT = 6379
_CLUSTER_ATTEMPTS = 2


def client_from_url(parsed: StoreURL) -> tuple[str, Connect]:
    """Take the connection options out of ``parsed``; return the server's name for
    error messages and a callable that builds the client."""
    timeout = parsed.seconds("timeout", 2.0)
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "username": parsed.username,
        "password": parsed.password,
    }
    if parsed.scheme == "unix":
        return _unix(parsed, common)
    common["socket_connect_timeout"] = parsed.seconds("connect_timeout", timeout)
    if parsed.scheme == "redis+cluster":
        return _cluster(parsed, common)
    return _standalone(parsed, common, timeout)


def _standalone(parsed: StoreURL, common: dict[str, Any], timeout: float) -> tuple[str, Connect]:
    if len(parsed.hosts) > 1:
        raise ValueError(f"Redis URL {parsed.redacted()!r} names several hosts; for a cluster use redis+cluster://")
    host, port = parsed.hosts[0] if parsed.hosts else ("127.0.0.1", DEFAULT_PORT)
    host, port = host or "127.0.0.1", port or DEFAULT_PORT
    options = {**common, "host": host, "port": port, "db": _db(parsed)}
    if parsed.scheme == "rediss":
        options.update(_ssl_options(parsed), connection_class=SSLConnection)
    else:
        options["connection_class"] = Connection
    max_connections = parsed.integer("max_connections", 50, minimum=1)
    return _address(host, port), functools.partial(_pooled, options, max_connections, timeout)


def _unix(parsed: StoreURL, common: dict[str, Any]) -> tuple[str, Connect]:
    if parsed.hosts or not parsed.path:
        raise ValueError(f"Redis URL {parsed.redacted()!r} must look like unix:///path/to/redis.sock?db=0")
    path = "/" + parsed.path
    options = {**common, "path": path, "db": parsed.integer("db", 0), "connection_class": UnixDomainSocketConnection}
    max_connections = parsed.integer("max_connections", 50, minimum=1)
    return f"unix:{path}", functools.partial(_pooled, options, max_connections, common["socket_timeout"])


def _pooled(options: dict[str, Any], max_connections: int, timeout: float) -> Client:
    # A blocking pool makes a burst of threads wait (up to the timeout) for a connection
    # rather than fail. One immediate retry on a broken connection covers a pooled socket
    # that a restarted server closed; timeouts are not retried, so no call outlives them.
    pool = BlockingConnectionPool(  # type: ignore[no-untyped-call,unused-ignore]
        max_connections=max_connections,
        timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        **options,
    )
    # from_pool makes the client own the pool, so closing the client closes its sockets.
    # (The ignore is for the outdated types-redis stubs, which lack from_pool.)
    return Redis.from_pool(pool)  # type: ignore[attr-defined,no-any-return,unused-ignore]


def _cluster(parsed: StoreURL, common: dict[str, Any]) -> tuple[str, Connect]:
    if not parsed.hosts:
        raise ValueError(f"Redis Cluster URL {parsed.redacted()!r} names no node; e.g. redis+cluster://host:7000")
    if parsed.path.strip("/") not in ("", "0"):
        raise ValueError("Redis Cluster has only database 0; remove the database from the URL")
    nodes = [(host or "127.0.0.1", port or DEFAULT_PORT) for host, port in parsed.hosts]
    options = dict(common)
    # A call may take two attempts (see _cluster_client): each gets half the time.
    for name in ("socket_timeout", "socket_connect_timeout"):
        options[name] = options[name] / _CLUSTER_ATTEMPTS
    if parsed.boolean("ssl", False):
        options.update(_ssl_options(parsed), ssl=True)
    # Per node: the cluster client makes its own connection pools, which cap but do not wait.
    max_connections = parsed.integer("max_connections", 0)
    if max_connections:
        options["max_connections"] = max_connections
    server = ",".join(_address(host, port) for host, port in nodes)
    return server, functools.partial(_cluster_client, nodes, options)


def _cluster_client(nodes: list[tuple[str, int]], options: dict[str, Any]) -> Client:
    # One retry after the client has refreshed its view of the slots (a failover or a
    # restarted node); more would multiply the time an unreachable cluster takes to fail.
    startup = [ClusterNode(host, port) for host, port in nodes]  # type: ignore[no-untyped-call,unused-ignore]
    # The cast is for the outdated types-redis stubs, whose RedisCluster lacks EVAL.
    return cast(Client, RedisCluster(startup_nodes=startup, retry=Retry(NoBackoff(), _CLUSTER_ATTEMPTS - 1), **options))


def _db(parsed: StoreURL) -> int:
    text = parsed.path.strip("/")
    if not text:
        return parsed.integer("db", 0)
    if not text.isdigit():
        raise ValueError(f"Redis URL {parsed.redacted()!r} has a bad database number {text!r}")
    return int(text)


def _ssl_options(parsed: StoreURL) -> dict[str, Any]:
    return {
        "ssl_cert_reqs": parsed.choice("ssl_cert_reqs", "required", ("required", "optional", "none")),
        "ssl_ca_certs": parsed.text("ssl_ca_certs", "") or None,
        "ssl_certfile": parsed.text("ssl_certfile", "") or None,
        "ssl_keyfile": parsed.text("ssl_keyfile", "") or None,
    }


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
