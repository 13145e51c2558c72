"""Beaker's SessionMiddleware on memory, file, ext:database, ext:memcached and ext:redis."""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import beaker.middleware  # type: ignore[import-untyped]

from . import anchors, servers, stores
from .wsgi import SECRET, Target, _ok, blob, tick

COOKIE = "beaker"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The scenario app, written against Beaker's session."""
    path, session = environ["PATH_INFO"], environ["beaker.session"]
    if path == "/read":
        return _ok(start_response, str(session.get("user")).encode())
    if path == "/write":
        session["n"] = tick()
        session.save()
    elif path == "/create":
        session["user"] = "ada"
        session["blob"] = blob(environ)
        session.save()
    elif path == "/destroy":
        session.delete()
    return _ok(start_response)


def _target(name: str, config: dict[str, Any]) -> Target:
    base = {"session.key": COOKIE, "session.secret": SECRET, "session.auto": False, "session.timeout": 3600}
    return Target(name, beaker.middleware.SessionMiddleware(app, {**base, **config}), COOKIE)


def targets(store: str, backend: stores.Backend, workdir: str) -> Iterator[anchors.AnchorResult]:
    """Beaker on ``store``, where Beaker has a back end for it."""
    locks = os.path.join(workdir, "beaker-locks")
    if store == "memory":
        yield "beaker", _target("beaker", {"session.type": "memory"})
    elif store == "sqlite":
        yield (
            "beaker-file",
            _target(
                "beaker-file",
                {
                    "session.type": "file",
                    "session.data_dir": os.path.join(workdir, "beaker"),
                    "session.lock_dir": locks,
                },
            ),
        )
        yield _database(f"sqlite:///{workdir}/beaker.db", locks)
    elif store == "memcached":
        yield (
            "beaker",
            _target(
                "beaker",
                {
                    "session.type": "ext:memcached",
                    "session.url": f"127.0.0.1:{backend.extra['port']}",
                    "session.lock_dir": locks,
                },
            ),
        )
    elif store == "postgresql":
        table = f"bench_beaker_{os.getpid()}"
        url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        anchors.on_shutdown(lambda: _drop(table))
        yield _database(url, locks, table)
    elif store == "redis":
        # Beaker's keys are "beaker_cache:<id>:session" (no prefix option); nothing else here uses Beaker.
        anchors.on_shutdown(lambda: stores.delete_redis_prefix("beaker_cache:"))
        url = f"redis://{servers.REDIS_HOST}:{servers.REDIS_PORT}/0"
        yield "beaker", _target("beaker", {"session.type": "ext:redis", "session.url": url, "session.lock_dir": locks})


def _database(url: str, locks: str, table: str = "beaker_cache") -> anchors.AnchorResult:
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        return "beaker", "ext:database needs SQLAlchemy: pip install 'wsgisession[bench]'"
    config = {
        "session.type": "ext:database",
        "session.url": url,
        "session.table_name": table,
        "session.lock_dir": locks,
    }
    return "beaker", _target("beaker", config)


def _drop(table: str) -> None:
    import psycopg

    with psycopg.connect(servers.POSTGRES_CONNINFO, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {table}")
