"""SQLiteStore: the durable embedded default, safe across threads and worker processes.

One table in one database file, in WAL mode so that readers never wait for the
writer. Each thread of each process opens its own connection on first use, so a
pre-forking server's workers never share one.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time

from .store import Record, StoreError, StoreUnavailable, VersionConflict, new_version
from .urls import parse_store_url

__all__ = ["SQLiteStore"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PRUNE_BATCH = 5000
# SQLite's primary result codes: https://sqlite.org/rescode.html
_SQLITE_ERROR = 1
_UNAVAILABLE = frozenset({5, 6, 7, 10, 13, 14, 15})  # BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL


class SQLiteStore:
    """Sessions in the SQLite database at ``path``.

    ``busy_timeout`` is how long a write waits for another process's write before
    failing with :class:`StoreUnavailable`. ``synchronous`` is SQLite's setting:
    ``normal`` (default) survives a crash of the application, ``full`` also a crash
    of the machine, at the cost of an fsync per write.
    """

    def __init__(
        self,
        path: str,
        table: str = "wsgisession",
        prefix: str = "",
        busy_timeout: float = 5.0,
        synchronous: str = "normal",
    ) -> None:
        if not path or path == ":memory:":
            raise ValueError("SQLiteStore needs a database file path; for sessions in memory use memory://")
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"SQLite table name {table!r} must be letters, digits and _, not starting with a digit")
        if synchronous.lower() not in ("normal", "full"):
            raise ValueError("SQLiteStore synchronous must be 'normal' or 'full'")
        self.path = path
        self.table = table
        self.prefix = prefix
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._generation = 0
        self._pid = os.getpid()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """Build from ``sqlite:///relative.db`` or ``sqlite:////absolute.db``, with
        options ``table``, ``prefix``, ``busy_timeout`` and ``synchronous``."""
        parsed = parse_store_url(url)
        if parsed.hosts:
            raise ValueError(f"SQLite URL {url!r} has a host; write sqlite:///relative.db or sqlite:////absolute.db")
        store = cls(
            parsed.path,
            table=parsed.text("table", "wsgisession"),
            prefix=parsed.text("prefix", ""),
            busy_timeout=parsed.seconds("busy_timeout", 5.0),
            synchronous=parsed.choice("synchronous", "normal", ("normal", "full")),
        )
        parsed.finish()
        return store

    def load(self, key: str) -> Record | None:
        """Return the live record under ``key``."""
        row = self._run(
            f"SELECT data, version, expires FROM {self.table} WHERE key = ? AND expires > ?",
            (self.prefix + key, time.time()),
        ).fetchone()
        return None if row is None else Record(row[0], row[1], row[2])

    def save(self, key: str, data: bytes, ttl: int, version: int | None = None) -> int:
        """Create (``version=None``) or conditionally replace the record, in one statement."""
        now = time.time()
        new = new_version()
        if version is None:
            # An expired row still holds the key: the upsert replaces only that one.
            cursor = self._run(
                f"INSERT INTO {self.table} (key, data, version, expires) VALUES (?, ?, ?, ?) "
                f"ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = excluded.version, "
                f"expires = excluded.expires WHERE {self.table}.expires <= ?",
                (self.prefix + key, data, new, now + ttl, now),
            )
        else:
            cursor = self._run(
                f"UPDATE {self.table} SET data = ?, version = ?, expires = ? "
                "WHERE key = ? AND version = ? AND expires > ?",
                (data, new, now + ttl, self.prefix + key, version, now),
            )
        if cursor.rowcount != 1:
            raise VersionConflict(f"session record {key!r} already exists, changed or vanished")
        return new

    def touch(self, key: str, ttl: int) -> bool:
        """Move the expiry of a live record."""
        now = time.time()
        cursor = self._run(
            f"UPDATE {self.table} SET expires = ? WHERE key = ? AND expires > ?",
            (now + ttl, self.prefix + key, now),
        )
        return cursor.rowcount == 1

    def delete(self, key: str) -> None:
        """Remove the record if present."""
        self._run(f"DELETE FROM {self.table} WHERE key = ?", (self.prefix + key,))

    def prune(self) -> int:
        """Delete expired records in batches, so no write lock is held for long."""
        removed = 0
        while True:
            cursor = self._run(
                f"DELETE FROM {self.table} WHERE key IN "
                f"(SELECT key FROM {self.table} WHERE expires <= ? LIMIT {_PRUNE_BATCH})",
                (time.time(),),
            )
            removed += cursor.rowcount
            if cursor.rowcount < _PRUNE_BATCH:
                return removed

    def count(self) -> int:
        """Number of live records under this store's prefix."""
        row = self._run(
            f"SELECT count(*) FROM {self.table} WHERE substr(key, 1, ?) = ? AND expires > ?",
            (len(self.prefix), self.prefix, time.time()),
        ).fetchone()
        return int(row[0])

    def clear(self) -> None:
        """Delete every record under this store's prefix."""
        self._run(f"DELETE FROM {self.table} WHERE substr(key, 1, ?) = ?", (len(self.prefix), self.prefix))

    def schema_sql(self) -> str:
        """The DDL of the table, which the store also runs itself on first use."""
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} (\n"
            "    key TEXT PRIMARY KEY,\n"
            "    data BLOB NOT NULL,\n"
            "    version INTEGER NOT NULL,\n"
            "    expires REAL NOT NULL  -- Unix time\n"
            ") WITHOUT ROWID;\n"
            f"CREATE INDEX IF NOT EXISTS {self.table}_expires ON {self.table} (expires);"
        )

    def close(self) -> None:
        """Close every connection this process opened; later calls reconnect."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._generation += 1
        for connection in connections:
            connection.close()

    def _run(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        try:
            return self._connection().execute(sql, params)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> StoreError:
        """:class:`StoreUnavailable` for a file that cannot be used now (locked, not
        there, disk trouble); a :class:`StoreError` that says what to change for the rest."""
        code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+: before, guess from the class
        primary = None if code is None else code & 0xFF
        if primary in _UNAVAILABLE or (primary is None and isinstance(exc, sqlite3.OperationalError)):
            return StoreUnavailable(f"sqlite:{self.path}", exc)
        if primary == _SQLITE_ERROR:
            return StoreError(
                f"SQLite store {self.path}, table {self.table}: {exc}. If that table holds something "
                "other than sessions, choose another table name (table=...)"
            )
        return StoreError(f"SQLite store {self.path}: {exc}")

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "generation", None) == self._generation and local.pid == os.getpid():
            connection: sqlite3.Connection = local.connection
            return connection
        return self._connect()

    def _connect(self) -> sqlite3.Connection:
        pid = os.getpid()
        with self._lock:
            if pid != self._pid:
                # Connections inherited over fork() belong to the parent: never touch them.
                self._pid, self._connections = pid, []
                self._generation += 1
            connection = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._connections.append(connection)
            generation = self._generation
        try:
            connection.execute(f"PRAGMA synchronous = {self.synchronous}")
            self._prepare(connection)
        except sqlite3.Error:
            with self._lock:  # the next request starts over: never keep a half-made connection
                if connection in self._connections:
                    self._connections.remove(connection)
            connection.close()
            raise
        self._local.connection, self._local.generation, self._local.pid = connection, generation, pid
        return connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        """Put the file in WAL mode and create the table, if not done yet.

        Switching a new file to WAL takes an exclusive lock, and SQLite reports
        "database is locked" at once, without waiting out ``busy_timeout``, while
        another connection has the file open: other threads here, or other workers
        of a pre-forking server starting at the same moment. So wait here instead.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    connection.execute("PRAGMA journal_mode = WAL")
                connection.executescript(self.schema_sql())
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
