"""PostgresStore: sessions in one PostgreSQL table, through psycopg 3 and psycopg_pool."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import errors
from psycopg.conninfo import make_conninfo
from psycopg.types.numeric import Float8, Int8
from psycopg_pool import PoolClosed, PoolTimeout, TooManyRequests

from wsgisession.store import Record, StoreError, StoreUnavailable, VersionConflict, new_version
from wsgisession.urls import StoreURL, parse_store_url

from .connection import Pool, open_pool, server_name, store_conninfo
from .pruner import BackgroundPruner
from .schema import Statements, TableName

__all__ = ["PostgresStore"]

_Rows = list[tuple[Any, ...]]
_LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "target_session_attrs")
# What libpq or the server says (in English) when it refuses the settings rather than
# the moment; "the database system is starting up" or "too many clients" pass.
_REFUSED_SETTINGS = (
    "does not exist",  # database or role
    "authentication failed",
    "pg_hba.conf",
    "not permitted to log in",
    "permission denied",
    "SSL was required",
    "invalid ",  # libpq's own checks: port number, sslmode value, connection option...
)
# Pools inherited over fork() belong to the parent: closing or even finalizing them
# in the child could disturb the parent's connections, so the child keeps them alive.
_INHERITED: list[Pool] = []


class PostgresStore:
    """Sessions in the PostgreSQL table ``table`` (in ``schema``, else on the search_path).

    Connections come from a :class:`psycopg_pool.ConnectionPool` of ``min_size`` to
    ``max_size`` connections to ``conninfo`` (a libpq URL or ``key=value`` string),
    opened in the process that first needs it; or pass the application's own
    ``pool`` (ideally in autocommit, else each call commits in a second round trip).

    ``timeout`` bounds the wait for a connection, ``connect_timeout`` one connection
    attempt, ``statement_timeout`` one statement on the server (``None``: the
    server's setting); a server that is down or too slow gives
    :class:`~wsgisession.store.StoreUnavailable` instead of a hang. ``prepare=False``
    turns prepared statements off, for PgBouncer in transaction mode.

    The table is created on first use unless ``create_table=False`` (see
    :meth:`schema_sql`). With ``prune_interval`` (seconds) a daemon thread deletes
    expired sessions that often, ``prune_batch`` rows per statement.
    """

    def __init__(
        self,
        conninfo: str = "",
        *,
        pool: Pool | None = None,
        table: str = "wsgisession",
        schema: str | None = None,
        prefix: str = "",
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
        connect_timeout: float = 5.0,
        statement_timeout: float | None = 5.0,
        create_table: bool = True,
        prepare: bool = True,
        prune_interval: float | None = None,
        prune_batch: int = 5000,
    ) -> None:
        if pool is not None and conninfo:
            raise ValueError("PostgresStore takes a conninfo or a pool, not both")
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError(f"PostgresStore needs 0 <= min_size <= max_size >= 1, not {min_size}, {max_size}")
        if prune_batch < 1 or (prune_interval is not None and prune_interval <= 0):
            raise ValueError("PostgresStore prune_batch and prune_interval must be positive")
        self.table = TableName(table, schema)
        self.prefix = prefix
        self.min_size, self.max_size = min_size, max_size
        self.timeout = timeout
        self.statement_timeout = statement_timeout
        self.create_table = create_table
        self.prepare = prepare
        self.prune_batch = prune_batch
        self.server = server_name(_pool_conninfo(pool) if pool is not None else conninfo)
        self._conninfo = store_conninfo(conninfo, connect_timeout, statement_timeout, timeout)
        self._app_pool = pool
        self._sql = Statements.for_table(self.table)
        self._lock = threading.Lock()
        self._ddl_lock = threading.Lock()
        self._active: tuple[int, Pool] | None = None
        self._last_connect_error: Exception | None = None
        self._failed_check: tuple[float, str] | None = None  # until when, and why
        self._pruner = None if prune_interval is None else BackgroundPruner(self.prune, prune_interval, f"prune {self}")

    def __repr__(self) -> str:
        return f"<PostgresStore {self.table} at {self.server}>"

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Build from ``postgresql://user:password@host:port/dbname?options``.

        Options: ``table``, ``schema``, ``prefix``, ``min_size``, ``max_size``,
        ``timeout``, ``connect_timeout``, ``statement_timeout`` (seconds, ``0`` for the
        server's setting), ``create_table``, ``prepare``, ``prune_interval``,
        ``prune_batch``, and the libpq options ``sslmode``, ``sslrootcert``,
        ``sslcert``, ``sslkey``, ``application_name``, ``target_session_attrs``. A
        server on a Unix socket, as with libpq: ``postgresql://user@/dbname?host=/var/run/postgresql``
        (and ``port`` if not 5432).
        """
        parsed = parse_store_url(url)
        parsed.taken.extend(_LIBPQ_OPTIONS)
        libpq: dict[str, Any] = {name: parsed.options.pop(name) for name in _LIBPQ_OPTIONS if name in parsed.options}
        libpq.update(_hosts(parsed))
        statement_timeout = parsed.text("statement_timeout", "5")
        store = cls(
            make_conninfo("", dbname=parsed.path or None, user=parsed.username, password=parsed.password, **libpq),
            table=parsed.text("table", "wsgisession"),
            schema=parsed.text("schema", "") or None,
            prefix=parsed.text("prefix", ""),
            min_size=parsed.integer("min_size", 1),
            max_size=parsed.integer("max_size", 10, minimum=1),
            timeout=parsed.seconds("timeout", 5.0),
            connect_timeout=parsed.seconds("connect_timeout", 5.0),
            statement_timeout=_optional_seconds("statement_timeout", statement_timeout),
            create_table=parsed.boolean("create_table", True),
            prepare=parsed.boolean("prepare", True),
            prune_interval=parsed.seconds("prune_interval", 0.0) or None,
            prune_batch=parsed.integer("prune_batch", 5000, minimum=1),
        )
        parsed.finish()
        return store

    def schema_sql(self) -> str:
        """The DDL of this store's table and index, for databases migrated by hand."""
        return self.table.ddl()

    def load(self, key: str) -> Record | None:
        """Return the live record under ``key``."""
        _, rows = self._run(self._sql.load, (self.prefix + key,), "SELECT")
        return Record(*rows[0]) if rows else None

    def save(self, key: str, data: bytes, ttl: int, version: int | None = None) -> int:
        """Create (``version=None``) or conditionally replace the record, in one statement."""
        new = Int8(new_version())
        if version is None:
            # An expired row may still hold the key: the upsert replaces only that one.
            params: tuple[object, ...] = (self.prefix + key, data, new, Float8(ttl))
            _, rows = self._run(self._sql.create, params, "INSERT, SELECT and UPDATE")
        else:
            params = (data, new, Float8(ttl), self.prefix + key, Int8(version), new)
            _, rows = self._run(self._sql.update, params, "SELECT and UPDATE")
        if not rows:
            raise VersionConflict(f"session record {key!r} already exists, changed or vanished")
        return int(new)

    def touch(self, key: str, ttl: int) -> bool:
        """Move the expiry of a live record; its data and version stay."""
        count, _ = self._run(self._sql.touch, (Float8(ttl), self.prefix + key), "SELECT and UPDATE")
        return count == 1

    def delete(self, key: str) -> None:
        """Remove the record if present."""
        self._run(self._sql.delete, (self.prefix + key,), "SELECT and DELETE")

    def prune(self, progress: Callable[[int], None] | None = None) -> int:
        """Delete expired records (of every prefix) ``prune_batch`` at a time, each
        batch its own short transaction, and return how many were deleted.

        ``progress``, if given, is called after each batch with the total so far.
        """
        removed = 0
        while True:
            count, _ = self._run(self._sql.prune, (Int8(self.prune_batch),), "SELECT and DELETE")
            removed += count
            if progress is not None:
                progress(removed)
            if count < self.prune_batch:
                return removed

    def count(self) -> int:
        """Number of live records under this store's prefix."""
        _, rows = self._run(self._sql.count, (self.prefix,), "SELECT")
        return int(rows[0][0])

    def clear(self) -> None:
        """Delete every record under this store's prefix."""
        self._run(self._sql.clear, (self.prefix,), "SELECT and DELETE")

    def close(self) -> None:
        """Stop the pruner and close the store's own pool (never the application's);
        later calls reconnect."""
        with self._lock:
            active, self._active = self._active, None
        if self._pruner is not None:
            self._pruner.stop()
        if active is not None and active[1] is not self._app_pool and active[0] == os.getpid():
            active[1].close()

    def _run(self, query: bytes, params: Sequence[object], needs: str) -> tuple[int, _Rows]:
        """Run one statement; translate failures into store errors.

        A missing table is created (once) and a dropped connection retried once on a
        checked pool: the statements are idempotent, so a retry never applies twice.
        """
        retried = created = False
        while True:
            try:
                return self._attempt(query, params, self.prepare)
            except errors.UndefinedTable as exc:
                if created or not self.create_table:
                    raise self._error(exc, needs) from exc
                self._create_table()
                created = True
            except (PoolTimeout, PoolClosed, TooManyRequests, errors.QueryCanceled) as exc:
                raise self._error(exc, needs) from exc
            except psycopg.OperationalError as exc:
                if retried:
                    raise self._error(exc, needs) from exc
                # After a server restart every idle connection is dead: drop them all now.
                self._pool().check()
                retried = True
            except psycopg.Error as exc:
                raise self._error(exc, needs) from exc

    def _attempt(self, query: bytes, params: Sequence[object] | None, prepare: bool) -> tuple[int, _Rows]:
        with self._pool().connection() as conn:
            cursor = conn.execute(query, params, prepare=prepare)
            return cursor.rowcount, cursor.fetchall() if cursor.description is not None else []

    def _create_table(self) -> None:
        with self._ddl_lock:
            try:
                self._attempt(self._sql.ddl, None, prepare=False)
            except (errors.DuplicateTable, errors.DuplicateObject, errors.UniqueViolation):
                pass  # another process created it at the same moment
            except psycopg.Error as exc:
                raise self._error(exc, f"CREATE on schema {self.table.schema or '(first on the search_path)'}") from exc

    def _error(self, exc: psycopg.Error, needs: str) -> StoreError:
        if isinstance(exc, (PoolTimeout, TooManyRequests)):
            reason = f"no connection within {self.timeout:g}s"
            if self._last_connect_error is not None:
                reason += f" (last attempt: {_first_line(self._last_connect_error)})"
            return StoreUnavailable(self.server, reason)
        if isinstance(exc, errors.QueryCanceled):
            return StoreUnavailable(self.server, f"statement cancelled (statement_timeout={self.statement_timeout}s)")
        if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, PoolClosed):
            return StoreUnavailable(self.server, _first_line(exc))
        return self._setup_error(exc, needs)

    def _setup_error(self, exc: psycopg.Error, needs: str) -> StoreError:
        """An error that the database's setup, not its availability, explains."""
        if isinstance(exc, errors.InsufficientPrivilege):
            return StoreError(f"PostgreSQL session store: the database role needs {needs} on {self.table}: {exc}")
        if isinstance(exc, errors.UndefinedTable):
            return StoreError(
                f"PostgreSQL session table {self.table} does not exist and create_table is off: "
                "create it with the SQL printed by `wsgisession schema --store URL`"
            )
        if isinstance(exc, errors.InvalidSchemaName):
            return StoreError(f"PostgreSQL schema {self.table.schema} does not exist: create it first")
        return StoreError(f"PostgreSQL session store {self.table}: {exc}")

    def _pool(self) -> Pool:
        active = self._active
        if active is not None and active[0] == os.getpid():
            return active[1]
        with self._lock:
            pid = os.getpid()
            if self._active is not None and self._active[0] != pid:
                if self._active[1] is not self._app_pool:
                    _INHERITED.append(self._active[1])
                self._active = None
            if self._active is None:
                if self._app_pool is None:
                    self._check_server()  # under the lock: one attempt, whose answer the others share
                self._active = (pid, self._app_pool or self._open_pool())
            if self._pruner is not None:
                self._pruner.start()
            return self._active[1]

    def _open_pool(self) -> Pool:
        return open_pool(
            self._conninfo,
            min_size=self.min_size,
            max_size=self.max_size,
            timeout=self.timeout,
            prepare=self.prepare,
            name=f"wsgisession {self.table}",
            on_connect_error=self._note_connect_error,
        )

    def _check_server(self) -> None:
        """Connect once before this process opens its pool. A pool retries a refused
        connection in the background until its timeout, so a wrong user, password or
        database would look like an outage; here it fails at once, saying what to
        change, and an unreachable server fails within ``connect_timeout``."""
        failed = self._failed_check
        if failed is not None and time.monotonic() < failed[0]:
            raise self._check_error(failed[1])  # the attempt this thread queued behind failed
        try:
            psycopg.connect(self._conninfo, autocommit=True).close()
        except psycopg.OperationalError as exc:
            reason = _first_line(exc)
            self._failed_check = (time.monotonic() + 1.0, reason)
            raise self._check_error(reason) from exc
        self._failed_check = None

    def _check_error(self, reason: str) -> StoreError:
        if any(phrase in reason for phrase in _REFUSED_SETTINGS):
            return StoreError(
                f"PostgreSQL at {self.server} refused the session store's settings ({reason}): "
                "check the user, password, database name and options in the store URL"
            )
        return StoreUnavailable(self.server, reason)

    def _note_connect_error(self, exc: Exception | None) -> None:
        self._last_connect_error = exc


def _optional_seconds(name: str, raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"store URL option {name}={raw!r} must be a number of seconds (0: none)") from None
    if value < 0:
        raise ValueError(f"store URL option {name}={raw} must not be negative")
    return value or None


def _hosts(parsed: StoreURL) -> dict[str, str]:
    """libpq's ``host`` and ``port``: from the URL's hosts, or from ``?host=`` (a name,
    or the folder of a Unix socket) and ``?port=`` when the URL has none."""
    host, port = parsed.text("host", ""), parsed.text("port", "")
    if parsed.hosts and (host or port):
        raise ValueError(f"{parsed.redacted()} names its server twice: give host and port in the URL or as options")
    if parsed.hosts:
        return {
            "host": ",".join(name for name, _ in parsed.hosts),
            "port": ",".join(str(number or 5432) for _, number in parsed.hosts),
        }
    if port and not port.isdigit():
        raise ValueError(f"PostgreSQL URL option port={port!r} must be a number")
    return {name: value for name, value in (("host", host), ("port", port)) if value}


def _pool_conninfo(pool: Pool) -> str:
    # psycopg_pool also takes a function that returns the conninfo for each connection.
    return pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()


def _first_line(exc: Exception) -> str:
    # libpq adds hints on further lines; the first says what happened.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
