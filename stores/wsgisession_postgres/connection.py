"""Connecting: the libpq connection string a store's pool uses, the ``host:port``
that errors name, and the pool itself.

Private to :mod:`wsgisession_postgres`; :class:`~wsgisession_postgres.PostgresStore`
is the public face.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

__all__ = ["Pool", "open_pool", "server_name", "store_conninfo"]

Pool = ConnectionPool[Any]
"""A psycopg connection pool, the store's own or the application's."""


def server_name(conninfo: str) -> str:
    """``host:port`` (comma-separated when libpq is given several) for error messages."""
    params = conninfo_to_dict(conninfo)
    hosts = str(params.get("host") or os.environ.get("PGHOST") or "localhost").split(",")
    ports = str(params.get("port") or os.environ.get("PGPORT") or "5432").split(",")
    if len(ports) == 1:
        ports *= len(hosts)
    return ",".join(f"{host}:{port}" for host, port in zip(hosts, ports, strict=False))


def store_conninfo(conninfo: str, connect_timeout: float, statement_timeout: float | None, timeout: float) -> str:
    """``conninfo`` with the store's timeouts added.

    ``connect_timeout`` bounds a connection attempt, ``statement_timeout`` (server
    side) a statement, and ``tcp_user_timeout`` a network that stops answering, so
    no call waits on a dead peer for long.
    """
    params = conninfo_to_dict(conninfo)
    extra: dict[str, Any] = {
        # libpq counts whole seconds and treats anything under 2 as 2.
        "connect_timeout": max(2, math.ceil(connect_timeout)),
        "tcp_user_timeout": int(1000 * max(connect_timeout, timeout, statement_timeout or 0)),
    }
    if "application_name" not in params:
        extra["application_name"] = "wsgisession"
    if statement_timeout is not None:
        setting = f"-c statement_timeout={int(statement_timeout * 1000)}"
        extra["options"] = f"{params['options']} {setting}" if params.get("options") else setting
    return make_conninfo(conninfo, **extra)


def open_pool(
    conninfo: str,
    *,
    min_size: int,
    max_size: int,
    timeout: float,
    prepare: bool,
    name: str,
    on_connect_error: Callable[[Exception | None], None],
) -> Pool:
    """Open a pool in the background: no call here waits for the server.

    ``on_connect_error`` hears each failed connection attempt (and ``None`` after a
    success), so a timeout can say why no connection came.
    """
    pool: Pool = ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        # Give up on a failed reconnection soon: the next request that finds no
        # connection starts a fresh attempt at once, instead of waiting out a backoff
        # grown long during an outage, so the pool recovers as soon as the server does.
        reconnect_timeout=max(timeout, 1.0),
        connection_class=_reporting_connection_class(on_connect_error),
        kwargs={"autocommit": True, "prepare_threshold": 5 if prepare else None},
        name=name,
        open=False,
    )
    pool.open(wait=False)
    return pool


def _reporting_connection_class(
    on_connect_error: Callable[[Exception | None], None],
) -> type[psycopg.Connection[TupleRow]]:
    class StoreConnection(psycopg.Connection[TupleRow]):
        """A psycopg connection that reports its failures to connect."""

        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> StoreConnection:
            try:
                connection = super().connect(conninfo, **kwargs)
            except psycopg.Error as exc:
                on_connect_error(exc)
                raise
            on_connect_error(None)
            return connection

    return StoreConnection
