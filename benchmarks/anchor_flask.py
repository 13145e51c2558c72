"""Flask-Session (memory through cachelib, SQLAlchemy for SQLite and PostgreSQL,
memcached, Redis), beside the same Flask app without it."""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import flask

from . import anchors, servers, stores
from .wsgi import Target, blob, tick

COOKIE = "session"


def make_app(config: dict[str, Any] | None = None) -> flask.Flask:
    """The scenario app in Flask; with ``config``, Flask-Session serves its sessions."""
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY="benchmark", SESSION_PERMANENT=True, PERMANENT_SESSION_LIFETIME=3600)

    @app.route("/untouched")
    def untouched() -> str:
        return "ok"

    @app.route("/read")
    def read() -> str:
        return str(flask.session.get("user"))

    @app.route("/write")
    def write() -> str:
        flask.session["n"] = tick()
        return "ok"

    @app.route("/create")
    def create() -> str:
        flask.session["user"] = "ada"
        flask.session["blob"] = blob(flask.request.environ)
        return "ok"

    @app.route("/destroy")
    def destroy() -> str:
        flask.session.clear()
        return "ok"

    if config is not None:
        import flask_session  # type: ignore[import-untyped]

        app.config.update(config)
        if config.get("SESSION_TYPE") == "sqlalchemy":
            from flask_sqlalchemy import SQLAlchemy

            app.config["SESSION_SQLALCHEMY"] = SQLAlchemy(app)
        flask_session.Session(app)
    return app


def bare() -> Target:
    """Flask without Flask-Session (its own sessions never touched on /untouched)."""
    return Target("flask-bare", make_app(), None)


def targets(store: str, backend: stores.Backend, workdir: str) -> Iterator[anchors.AnchorResult]:
    """Flask-Session on ``store``."""
    import flask_session  # noqa: F401  (fail here, as "not installed", when it is missing)

    config = _config(store, backend, workdir)
    if isinstance(config, str):
        yield "flask-session", config
    else:
        yield "flask-session", Target("flask-session", make_app(config), COOKIE)


def _config(store: str, backend: stores.Backend, workdir: str) -> dict[str, Any] | str:
    if store == "memory":
        from cachelib import SimpleCache

        return {"SESSION_TYPE": "cachelib", "SESSION_CACHELIB": SimpleCache(threshold=1_000_000)}
    if store == "memcached":
        from pymemcache.client.base import Client  # type: ignore[import-untyped]

        return {
            "SESSION_TYPE": "memcached",
            "SESSION_MEMCACHED": Client(("127.0.0.1", backend.extra["port"]), no_delay=True),
        }
    if store == "redis":
        import redis

        prefix = f"fsbench{os.getpid()}:"
        anchors.on_shutdown(lambda: stores.delete_redis_prefix(prefix))
        client = redis.Redis(host=servers.REDIS_HOST, port=servers.REDIS_PORT)
        return {"SESSION_TYPE": "redis", "SESSION_REDIS": client, "SESSION_KEY_PREFIX": prefix}
    if store in ("sqlite", "postgresql"):
        return _sqlalchemy(store, workdir)
    return f"no Flask-Session back end for {store}"


def _sqlalchemy(store: str, workdir: str) -> dict[str, Any] | str:
    try:
        from flask_sqlalchemy import SQLAlchemy
    except ImportError:
        return "needs Flask-SQLAlchemy: pip install 'wsgisession[bench]'"
    table = f"bench_flask_{os.getpid()}"
    if store == "sqlite":
        uri = f"sqlite:///{workdir}/flask.db"
    else:
        uri = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        anchors.on_shutdown(lambda: _drop(table))
    del SQLAlchemy  # bound to the app in make_app
    return {"SESSION_TYPE": "sqlalchemy", "SESSION_SQLALCHEMY_TABLE": table, "SQLALCHEMY_DATABASE_URI": uri}


def _drop(table: str) -> None:
    import psycopg

    with psycopg.connect(servers.POSTGRES_CONNINFO, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {table}")
