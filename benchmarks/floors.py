"""The raw driver floors: the round trips a scenario cannot avoid, made straight on
the driver inside a bare WSGI app, so the ratio to them is what our layer adds."""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .timing import Case
from .wsgi import DEFAULT_PAYLOAD, Target, _ok, environ, runner, tick

TTL = 3600

# Like the Redis store's save script: check the version in the value's header, then write.
REDIS_SAVE = b"""
local head = redis.call('GETRANGE', KEYS[1], 0, 8)
if string.sub(head, 1, 8) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


class RawOps(Protocol):
    """One store's raw round trips: read = 1 load, write = load + conditional save,
    create = 1 insert, destroy = 1 delete."""

    def read(self, key: str) -> object: ...
    def write(self, key: str, data: bytes) -> None: ...
    def create(self, key: str, data: bytes) -> None: ...
    def destroy(self, key: str) -> None: ...
    def close(self) -> None: ...


def data_of(size: int) -> bytes:
    """A record body of about ``size`` bytes that differs on every call."""
    head = b"%d:" % tick()
    return head + b"x" * max(0, size - len(head))


def new_key() -> str:
    """A fresh key shaped like a store key (64 hex characters)."""
    return secrets.token_hex(32)


def floor_target(ops: RawOps, name: str, payload: int = DEFAULT_PAYLOAD) -> Target:
    """A bare WSGI app that makes the scenario's raw calls on one pre-made record."""
    hot = new_key()
    ops.create(hot, data_of(payload))

    def app(env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = env["PATH_INFO"]
        if path == "/read":
            ops.read(hot)
        elif path == "/write":
            ops.write(hot, data_of(payload))
        elif path == "/create":
            ops.create(env["bench.key"], data_of(payload))
        elif path == "/destroy":
            ops.destroy(env["bench.key"])
        return _ok(start_response)

    return Target(name, app, None, ops.close)


def floor_case(target: Target, ops: RawOps, scenario: str, payload: int = DEFAULT_PAYLOAD) -> Case:
    """Create gets fresh keys; destroy gets records made outside the clock."""
    run, path = runner(target.app), "/" + scenario

    def prepare(n: int) -> list[dict[str, Any]]:
        keys = [new_key() for _ in range(n)]
        if scenario == "destroy":
            for key in keys:
                ops.create(key, data_of(payload))
        return [environ(path, None, {"bench.key": key}) for key in keys]

    return Case(prepare, run)


class DictOps:
    """The memory floor: a plain dict."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[bytes, int]] = {}

    def read(self, key: str) -> object:
        return self.records.get(key)

    def write(self, key: str, data: bytes) -> None:
        _, version = self.records[key]
        self.records[key] = (data, version + 1)

    def create(self, key: str, data: bytes) -> None:
        self.records[key] = (data, 1)

    def destroy(self, key: str) -> None:
        self.records.pop(key, None)

    def close(self) -> None:
        self.records.clear()


class SQLiteOps:
    """The SQLite floor: one connection, WAL, synchronous=NORMAL, select + update."""

    def __init__(self, path: str, table: str = "bench_floor") -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, data BLOB NOT NULL, "
            "version INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID"
        )
        self.sql_read = f"SELECT data, version FROM {table} WHERE key = ?"
        self.sql_update = f"UPDATE {table} SET data = ?, version = ?, expires = ? WHERE key = ? AND version = ?"
        self.sql_insert = f"INSERT INTO {table} (key, data, version, expires) VALUES (?, ?, 1, ?)"
        self.sql_delete = f"DELETE FROM {table} WHERE key = ?"

    def read(self, key: str) -> object:
        return self.db.execute(self.sql_read, (key,)).fetchone()

    def write(self, key: str, data: bytes) -> None:
        _, version = self.db.execute(self.sql_read, (key,)).fetchone()
        self.db.execute(self.sql_update, (data, version + 1, time.time() + TTL, key, version))

    def create(self, key: str, data: bytes) -> None:
        self.db.execute(self.sql_insert, (key, data, time.time() + TTL))

    def destroy(self, key: str) -> None:
        self.db.execute(self.sql_delete, (key,))

    def close(self) -> None:
        self.db.close()


class MemcachedOps:
    """The memcached floor: pymemcache ``gets`` + ``cas``."""

    def __init__(self, port: int) -> None:
        from pymemcache.client.base import Client  # type: ignore[import-untyped]

        self.client = Client(("127.0.0.1", port), connect_timeout=2, timeout=2)

    def read(self, key: str) -> object:
        return self.client.get(key)

    def write(self, key: str, data: bytes) -> None:
        _, cas = self.client.gets(key)
        self.client.cas(key, data, cas, expire=TTL, noreply=False)

    def create(self, key: str, data: bytes) -> None:
        self.client.add(key, data, expire=TTL, noreply=False)

    def destroy(self, key: str) -> None:
        self.client.delete(key, noreply=False)

    def close(self) -> None:
        self.client.close()


class PostgresOps:
    """The PostgreSQL floor: psycopg on one autocommit connection, select + update."""

    def __init__(self, conninfo: str, table: str) -> None:
        import psycopg

        self.db = psycopg.connect(conninfo, autocommit=True)
        self.table = table
        self.db.execute(
            f'CREATE TABLE IF NOT EXISTS {table} (key text COLLATE "C" PRIMARY KEY, data bytea NOT NULL, '
            "version bigint NOT NULL, expires timestamptz NOT NULL)"
        )
        self.sql_read = f"SELECT data, version FROM {table} WHERE key = %s AND expires > now()".encode()
        self.sql_update = (
            f"UPDATE {table} SET data = %s, version = %s, expires = now() + interval '1 hour' "
            "WHERE key = %s AND version = %s"
        ).encode()
        self.sql_insert = f"INSERT INTO {table} VALUES (%s, %s, 1, now() + interval '1 hour')".encode()
        self.sql_delete = f"DELETE FROM {table} WHERE key = %s".encode()

    def read(self, key: str) -> object:
        return self.db.execute(self.sql_read, (key,), prepare=True).fetchone()

    def write(self, key: str, data: bytes) -> None:
        row = self.db.execute(self.sql_read, (key,), prepare=True).fetchone()
        assert row is not None
        self.db.execute(self.sql_update, (data, row[1] + 1, key, row[1]), prepare=True)

    def create(self, key: str, data: bytes) -> None:
        self.db.execute(self.sql_insert, (key, data), prepare=True)

    def destroy(self, key: str) -> None:
        self.db.execute(self.sql_delete, (key,), prepare=True)

    def close(self) -> None:
        self.db.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.db.close()


class RedisOps:
    """The Redis floor: redis-py GET + a version-checking Lua script, under ``prefix``."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        import redis

        self.client = redis.Redis(host=host, port=port, socket_timeout=2)
        self.save = self.client.register_script(REDIS_SAVE)
        self.prefix = prefix

    def read(self, key: str) -> object:
        return self.client.get(self.prefix + key)

    def write(self, key: str, data: bytes) -> None:
        value = self.client.get(self.prefix + key)
        assert value is not None
        version = os.urandom(8)
        self.save(keys=[self.prefix + key], args=[value[:8], version + data, TTL * 1000])

    def create(self, key: str, data: bytes) -> None:
        self.client.set(self.prefix + key, os.urandom(8) + data, nx=True, px=TTL * 1000)

    def destroy(self, key: str) -> None:
        self.client.unlink(self.prefix + key)

    def close(self) -> None:
        self.client.close()
