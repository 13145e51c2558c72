"""Django's session middleware (cache back end for memory, memcached and Redis; database
back end for SQLite and PostgreSQL), beside the same Django app without it.

Django's settings are set once per process, so every database and cache is declared up
front; a router sends the session model to the database of the store under test.
"""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import os
import sys
import tempfile
import types
from collections.abc import Iterator
from typing import Any

import django  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]

from . import anchors, servers, stores
from .wsgi import Target, blob, tick

COOKIE = "sessionid"
SCHEMA = f"bench_django_{os.getpid()}"
_state: dict[str, Any] = {"db": "default"}


class Router:
    """Sends the session model to the database of the store being measured."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return str(_state["db"])

    db_for_write = db_for_read


def _views() -> list[Any]:
    from django.http import HttpResponse  # type: ignore[import-untyped]
    from django.urls import path  # type: ignore[import-untyped]

    def untouched(request: Any) -> HttpResponse:
        return HttpResponse(b"ok")

    def read(request: Any) -> HttpResponse:
        return HttpResponse(str(request.session.get("user")).encode())

    def write(request: Any) -> HttpResponse:
        request.session["n"] = tick()
        return HttpResponse(b"ok")

    def create(request: Any) -> HttpResponse:
        request.session["user"] = "ada"
        request.session["blob"] = blob(request.META)
        return HttpResponse(b"ok")

    def destroy(request: Any) -> HttpResponse:
        request.session.flush()
        return HttpResponse(b"ok")

    return [path(f"{view.__name__}", view) for view in (untouched, read, write, create, destroy)]


def _setup() -> None:
    if settings.configured:
        return
    urls = types.ModuleType("benchmarks_django_urls")
    sys.modules[urls.__name__] = urls
    workdir = tempfile.mkdtemp(prefix="wsgisession-bench-django-")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-secret-not-for-production",
        ALLOWED_HOSTS=["localhost"],
        ROOT_URLCONF=urls.__name__,
        INSTALLED_APPS=["django.contrib.sessions"],
        MIDDLEWARE=[],
        USE_TZ=True,
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(workdir, "django.db")},
            "postgresql": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "test",
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": "5432",
                "OPTIONS": {"options": f"-c search_path={SCHEMA}"},
            },
        },
        DATABASE_ROUTERS=[f"{__name__}.Router"],
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "OPTIONS": {"MAX_ENTRIES": 1_000_000},
            }
        },
        SESSION_COOKIE_AGE=3600,
    )
    django.setup()
    urls.urlpatterns = _views()  # type: ignore[attr-defined]


def _handler(middleware: list[str]) -> Any:
    from django.core.handlers.wsgi import WSGIHandler  # type: ignore[import-untyped]
    from django.test.utils import override_settings  # type: ignore[import-untyped]

    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()


def bare() -> Target:
    """Django without its session middleware."""
    _setup()
    return Target("django-bare", _handler([]), None)


def targets(store: str, backend: stores.Backend, workdir: str) -> Iterator[anchors.AnchorResult]:
    """Django's sessions on ``store``."""
    _setup()
    engine = _engine(store, backend)
    from django.test.utils import override_settings

    with override_settings(SESSION_ENGINE=engine):
        handler = _handler(["django.contrib.sessions.middleware.SessionMiddleware"])
    yield "django", Target("django", handler, COOKIE)


def _engine(store: str, backend: stores.Backend) -> str:
    """The module path of a session engine bound to ``store``'s cache or database."""
    if store in ("sqlite", "postgresql"):
        alias = "default" if store == "sqlite" else "postgresql"
        _state["db"] = alias
        _create_table(alias)
        return "django.contrib.sessions.backends.db"
    location = {"memory": None, "memcached": f"127.0.0.1:{backend.extra.get('port')}", "redis": None}[store]
    configs: dict[str, dict[str, Any]] = {
        "memory": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 1_000_000}},
        "memcached": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": location},
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://{servers.REDIS_HOST}:{servers.REDIS_PORT}/0",
            "KEY_PREFIX": f"djbench{os.getpid()}",
        },
    }
    cache = configs[store]
    if store == "redis":
        anchors.on_shutdown(lambda: stores.delete_redis_prefix(f"djbench{os.getpid()}:"))
    return _cache_engine(store, cache)


def _cache_engine(store: str, cache: dict[str, Any]) -> str:
    from django.contrib.sessions.backends import cache as cache_backend  # type: ignore[import-untyped]
    from django.core.cache import caches  # type: ignore[import-untyped]

    alias = f"bench_{store}"
    settings.CACHES[alias] = cache
    module = types.ModuleType(f"benchmarks_django_engine_{store}")

    class SessionStore(cache_backend.SessionStore):  # type: ignore[misc]
        def __init__(self, session_key: str | None = None) -> None:
            super().__init__(session_key)
            self._cache = caches[alias]

    module.SessionStore = SessionStore  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    return module.__name__


def _create_table(alias: str) -> None:
    from django.contrib.sessions.models import Session  # type: ignore[import-untyped]
    from django.db import connections  # type: ignore[import-untyped]

    if alias == "postgresql":
        import psycopg

        with psycopg.connect(servers.POSTGRES_CONNINFO, autocommit=True) as db:
            db.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        anchors.on_shutdown(_drop_schema)
    connection = connections[alias]
    if Session._meta.db_table not in connection.introspection.table_names():
        with connection.schema_editor() as editor:
            editor.create_model(Session)


def _drop_schema() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(servers.POSTGRES_CONNINFO, autocommit=True) as db:
        db.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
