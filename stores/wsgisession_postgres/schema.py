"""The sessions table: its validated name, its DDL, and the statements that use it.

Everything here is pure: no connection is needed to build the SQL, so the DDL can
be printed for teams whose databases are migrated by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql

__all__ = ["Statements", "TableName"]

# Lower case only: quoted identifiers are case-sensitive, and a table that has to be
# written as "Sessions" forever in hand-written SQL is a trap. Short enough that the
# index name derived from it stays under PostgreSQL's 63-byte limit.
_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,49}")
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class TableName:
    """A sessions table ``name``, optionally in ``schema`` (else found on the search_path)."""

    name: str
    schema: str | None = None

    def __post_init__(self) -> None:
        if not _TABLE.fullmatch(self.name):
            raise ValueError(
                f"PostgreSQL session table name {self.name!r} must be 1 to 50 lower-case letters, "
                "digits and _, not starting with a digit"
            )
        if self.schema is not None and not _SCHEMA.fullmatch(self.schema):
            raise ValueError(
                f"PostgreSQL schema name {self.schema!r} must be 1 to 63 lower-case letters, "
                "digits and _, not starting with a digit"
            )

    @property
    def identifier(self) -> sql.Identifier:
        """The table, quoted (and schema-qualified when a schema was given)."""
        if self.schema is None:
            return sql.Identifier(self.name)
        return sql.Identifier(self.schema, self.name)

    @property
    def index(self) -> sql.Identifier:
        """The index on ``expires`` (created in the table's schema)."""
        return sql.Identifier(f"{self.name}_expires_idx")

    def __str__(self) -> str:
        return self.name if self.schema is None else f"{self.schema}.{self.name}"

    def ddl(self) -> str:
        """The ``CREATE TABLE`` and ``CREATE INDEX`` statements, idempotent, as text."""
        return _render(_DDL, self)


_DDL = """\
CREATE TABLE IF NOT EXISTS {table} (
    key text COLLATE "C" PRIMARY KEY,
    data bytea NOT NULL,
    version bigint NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    expires timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS {index} ON {table} (expires);
"""

# Every statement checks expiry against the database clock (now(), the start of the
# statement's own transaction under autocommit), so app servers with skewed clocks agree.
# Writes also match the version they are about to write: a statement retried after a
# connection dropped on its reply then finds its own write and succeeds, so retrying
# is safe (a new version is random and never stored before).
_LOAD = "SELECT data, version, extract(epoch FROM expires)::float8 FROM {table} WHERE key = %s AND expires > now()"
_CREATE = (
    "INSERT INTO {table} AS s (key, data, version, created, expires) "
    "VALUES (%s, %s, %s, now(), now() + %s * interval '1 second') "
    "ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = excluded.version, "
    "created = excluded.created, expires = excluded.expires "
    "WHERE s.expires <= now() OR s.version = excluded.version "
    "RETURNING version"
)
_UPDATE = (
    "UPDATE {table} SET data = %s, version = %s, expires = now() + %s * interval '1 second' "
    "WHERE key = %s AND version IN (%s, %s) AND expires > now() RETURNING version"
)
_TOUCH = "UPDATE {table} SET expires = now() + %s * interval '1 second' WHERE key = %s AND expires > now()"
_DELETE = "DELETE FROM {table} WHERE key = %s"
# SKIP LOCKED: rows a request is reviving right now are left for the next run, and
# two pruners (one per worker process) split the work instead of queueing.
_PRUNE = (
    "DELETE FROM {table} WHERE key IN "
    "(SELECT key FROM {table} WHERE expires <= now() LIMIT %s FOR UPDATE SKIP LOCKED) "
    "AND expires <= now()"
)
_COUNT = "SELECT count(*) FROM {table} WHERE starts_with(key, %s) AND expires > now()"
_CLEAR = "DELETE FROM {table} WHERE starts_with(key, %s)"


def _render(template: str, table: TableName) -> str:
    return sql.SQL(template).format(table=table.identifier, index=table.index).as_string(None)


@dataclass(frozen=True)
class Statements:
    """Every statement the store sends, rendered once for ``table``."""

    ddl: bytes
    load: bytes
    create: bytes
    update: bytes
    touch: bytes
    delete: bytes
    prune: bytes
    count: bytes
    clear: bytes

    @classmethod
    def for_table(cls, table: TableName) -> Statements:
        """Render the statements for ``table``."""
        return cls(
            *(
                _render(template, table).encode()
                for template in (_DDL, _LOAD, _CREATE, _UPDATE, _TOUCH, _DELETE, _PRUNE, _COUNT, _CLEAR)
            )
        )
