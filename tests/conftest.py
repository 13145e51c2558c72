"""Fixtures shared by the core's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from wsgisession import SessionMiddleware, SQLiteStore
from wsgisession.testing import CountingStore

SECRET = "test-secret-" + "s" * 32


def echo_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A small app driven by the path: /set/<k>/<v>, /get/<k>, /del/<k>, /destroy,
    /regenerate, /append/<k>/<v>, /fail, /raise; anything else leaves the session alone."""
    session = environ["wsgisession"]
    parts = environ["PATH_INFO"].strip("/").split("/")
    body = b""
    match parts:
        case ["set", key, value]:
            session[key] = value
        case ["get", key]:
            body = str(session.get(key)).encode()
        case ["del", key]:
            del session[key]
        case ["append", key, value]:
            session.setdefault(key, []).append(value)
        case ["destroy"]:
            session.destroy()
        case ["regenerate"]:
            session.regenerate()
        case ["fail", key, value]:
            session[key] = value
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"failed"]
        case ["raise", key, value]:
            session[key] = value
            raise RuntimeError("the app failed")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    """A real SQLite store, counting its round trips."""
    counted = CountingStore(SQLiteStore(str(tmp_path / "sessions.db")))
    yield counted
    counted.close()


@pytest.fixture
def make_client(store: CountingStore) -> Callable[..., TestApp]:
    """Build a WebTest client around ``echo_app`` (or ``app=``) with middleware options."""

    def make(app: Any = echo_app, **options: Any) -> TestApp:
        options.setdefault("secret", SECRET)
        options.setdefault("store", store)
        return TestApp(SessionMiddleware(app, **options))

    return make


@pytest.fixture
def client(make_client: Callable[..., TestApp]) -> TestApp:
    """A client with the default options over the SQLite store."""
    return make_client()
