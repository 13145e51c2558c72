"""The stores under test: how to open each, its raw floor, its bulk loader and its cleanup.

A store whose package fails to import, or whose server does not answer, is skipped
with the reason; nothing is ever faked.
"""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import floors, servers

STORES = ("memory", "sqlite", "memcached", "postgresql", "redis")
FILLER = b"f" * 100


@dataclass
class Backend:
    """One store under test. ``url`` opens it for wsgisession; ``ops`` makes its raw
    floor; ``fill(store, n)`` bulk-adds ``n`` filler records; ``cleanup`` removes all we made."""

    name: str
    url: str
    ops: Callable[[], floors.RawOps]
    fill: Callable[[Any, int], None]
    cleanup: Callable[[], None] = field(default=lambda: None)
    extra: dict[str, Any] = field(default_factory=dict)

    def clear(self, store: Any) -> None:
        """Remove every session of ours, so a scale series starts from a known count."""
        from wsgisession import Clearable

        if isinstance(store, Clearable):
            store.clear()
        elif "port" in self.extra:
            from pymemcache.client.base import Client  # type: ignore[import-untyped]

            client = Client(("127.0.0.1", self.extra["port"]))  # our own memcached: nobody else's data
            client.flush_all(noreply=False)
            client.close()


def open_backend(name: str, workdir: str) -> Backend | str:
    """The backend for ``name``, or the reason it is skipped."""
    try:
        backend = _BUILDERS[name](workdir)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    if isinstance(backend, str):
        return backend
    from wsgisession import open_store

    try:
        store = open_store(backend.url)
        store.load("0" * 64)
        store.close()
    except Exception as exc:
        backend.cleanup()
        return f"{type(exc).__name__}: {exc}"
    return backend


def _memory(workdir: str) -> Backend:
    def fill(store: Any, n: int) -> None:
        for i in range(n):
            store.save(f"fill{i:060d}{time.monotonic_ns()}", FILLER, 3600)

    return Backend("memory", "memory://?max_entries=3000000", floors.DictOps, fill)


def _sqlite(workdir: str) -> Backend:
    path = os.path.join(workdir, "bench.db")

    def fill(store: Any, n: int) -> None:
        db = sqlite3.connect(path, isolation_level=None)
        start = time.monotonic_ns()
        expires = time.time() + 3600
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO wsgisession (key, data, version, expires) VALUES (?, ?, 1, ?)",
            ((f"fill{start}-{i:040d}", FILLER, expires) for i in range(n)),
        )
        db.execute("COMMIT")
        db.close()

    return Backend("sqlite", f"sqlite:///{path}", lambda: floors.SQLiteOps(path), fill)


def _memcached(workdir: str) -> Backend | str:
    server = servers.Memcached(megabytes=1024)
    problem = server.start()
    if problem:
        return problem
    port = server.port

    def fill(store: Any, n: int) -> None:
        from pymemcache.client.base import Client

        client = Client(("127.0.0.1", port))
        start = time.monotonic_ns()
        for base in range(0, n, 1000):
            batch = {f"fill{start}-{i}": FILLER for i in range(base, min(n, base + 1000))}
            client.set_many(batch, expire=3600, noreply=True)
        client.version()  # waits until every noreply set above was read by the server
        client.close()

    return Backend(
        "memcached",
        f"memcached://127.0.0.1:{port}",
        lambda: floors.MemcachedOps(port),
        fill,
        server.stop,
        {"port": port},
    )


def _postgres(workdir: str) -> Backend | str:
    if not servers.reachable("127.0.0.1", 5432):
        return "PostgreSQL is not reachable at 127.0.0.1:5432"
    import psycopg

    table, floor_table = f"bench_ws_{os.getpid()}", f"bench_floor_{os.getpid()}"

    def fill(store: Any, n: int) -> None:
        with psycopg.connect(servers.POSTGRES_CONNINFO, autocommit=True) as db:
            start = time.monotonic_ns()
            db.execute(
                f"INSERT INTO {table} (key, data, version, expires) "
                "SELECT %s || i, %s, 1, now() + interval '1 hour' FROM generate_series(1, %s) AS i",
                (f"fill{start}-", FILLER, n),
            )
            db.execute(f"ANALYZE {table}")

    def cleanup() -> None:
        with psycopg.connect(servers.POSTGRES_CONNINFO, autocommit=True) as db:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"DROP TABLE IF EXISTS {floor_table}")

    return Backend(
        "postgresql",
        f"{servers.POSTGRES_URL}?table={table}",
        lambda: floors.PostgresOps(servers.POSTGRES_CONNINFO, floor_table),
        fill,
        cleanup,
    )


def _redis(workdir: str) -> Backend | str:
    if not servers.reachable(servers.REDIS_HOST, servers.REDIS_PORT):
        return f"Redis is not reachable at {servers.REDIS_HOST}:{servers.REDIS_PORT}"
    import redis

    prefix = f"wsbench{os.getpid()}:"

    def fill(store: Any, n: int) -> None:
        client = redis.Redis(host=servers.REDIS_HOST, port=servers.REDIS_PORT)
        start = time.monotonic_ns()
        for base in range(0, n, 5000):
            pipe = client.pipeline(transaction=False)
            for i in range(base, min(n, base + 5000)):
                pipe.set(f"{prefix}s:fill{start}-{i}", FILLER, px=3_600_000)  # under the store prefix: counted
            pipe.execute()
        client.close()

    def cleanup() -> None:
        delete_redis_prefix(prefix)

    return Backend(
        "redis",
        f"redis://{servers.REDIS_HOST}:{servers.REDIS_PORT}/0?prefix={prefix}s:",
        lambda: floors.RedisOps(servers.REDIS_HOST, servers.REDIS_PORT, prefix + "floor:"),
        fill,
        cleanup,
    )


def delete_redis_prefix(prefix: str) -> int:
    """Delete the keys under ``prefix`` (SCAN, never FLUSHDB); return how many."""
    import redis

    client = redis.Redis(host=servers.REDIS_HOST, port=servers.REDIS_PORT)
    removed = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=prefix.replace("*", r"\*") + "*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            removed += client.unlink(*batch)
            batch = []
    if batch:
        removed += client.unlink(*batch)
    client.close()
    return removed


_BUILDERS: dict[str, Callable[[str], Backend | str]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "memcached": _memcached,
    "postgresql": _postgres,
    "redis": _redis,
}


def workdir() -> str:
    """A scratch directory for SQLite files and the like."""
    return tempfile.mkdtemp(prefix="wsgisession-bench-")
