"""Flask on wsgisession: flask.session, flash and permanent on the real Flask, through WebTest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from webtest import TestApp

from wsgisession.testing import require_module

require_module("flask")

import flask

from wsgisession import MemoryStore
from wsgisession.ids import store_key
from wsgisession.integrations.flask import FlaskSession, init_app

SECRET = "flask-tests-" + "f" * 40


def make_app(**options: object) -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    app.permanent_session_lifetime = timedelta(hours=2)

    @app.get("/")
    def index() -> str:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return str(flask.session["n"])

    @app.get("/flash/<message>")
    def flash(message: str) -> str:
        flask.flash(message, "info")
        return "flashed"

    @app.get("/messages")
    def messages() -> str:
        return repr(flask.get_flashed_messages(with_categories=True))

    @app.get("/permanent/<int:on>")
    def permanent(on: int) -> str:
        flask.session["x"] = 1
        flask.session.permanent = bool(on)
        return str(flask.session.permanent)

    @app.get("/cart/<item>")
    def cart(item: str) -> str:
        flask.session.setdefault("cart", []).append(item)  # nested mutation, no session.modified
        return ",".join(flask.session["cart"])

    @app.get("/regenerate")
    def regenerate() -> str:
        session = flask.session
        assert isinstance(session, FlaskSession)
        session.wsgisession.regenerate()
        return "ok"

    @app.get("/clear")
    def clear() -> str:
        flask.session.clear()
        return "cleared"

    init_app(app, **options)
    return app


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def client(store: MemoryStore) -> TestApp:
    return TestApp(make_app(store=store))


def test_counter_across_requests(client: TestApp) -> None:
    assert [client.get("/").text for _ in range(3)] == ["1", "2", "3"]


def test_flash_is_shown_once(client: TestApp) -> None:
    client.get("/flash/hello")
    client.get("/flash/again")
    assert client.get("/messages").text == "[('info', 'hello'), ('info', 'again')]"
    assert client.get("/messages").text == "[]"


def test_sessions_are_browser_sessions_until_permanent(client: TestApp) -> None:
    first = client.get("/permanent/0")
    assert first.text == "False" and "Max-Age" not in first.headers["Set-Cookie"]
    second = client.get("/permanent/1")
    assert second.text == "True" and "Max-Age=7200" in second.headers["Set-Cookie"]
    assert "Max-Age" not in client.get("/permanent/0").headers["Set-Cookie"]


def test_nested_changes_are_saved(client: TestApp) -> None:
    client.get("/cart/apple")
    assert client.get("/cart/pear").text == "apple,pear"


def test_secret_key_signs_and_regenerate_kills_the_old_id(client: TestApp, store: MemoryStore) -> None:
    client.get("/")
    old = str(client.cookies["session"]).rsplit(".", 1)[0]
    client.get("/regenerate")
    assert store.load(store_key(old)) is None
    assert client.get("/").text == "2"
    other = TestApp(make_app(store=store, secret="another-secret-" + "o" * 40))
    other.set_cookie("session", client.cookies["session"])
    assert other.get("/").text == "1"  # not signed by SECRET_KEY's successor: a new session


def test_config_shapes_the_cookie(store: MemoryStore) -> None:
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, SESSION_COOKIE_NAME="sid", SESSION_COOKIE_SAMESITE="Strict")

    @app.get("/")
    def index() -> str:
        flask.session["k"] = "v"
        return "ok"

    init_app(app, store=store)
    cookie = TestApp(app).get("/").headers["Set-Cookie"]
    assert cookie.startswith("sid=") and "SameSite=Strict" in cookie


def test_clear_deletes_and_missing_secret_is_refused(client: TestApp) -> None:
    client.get("/")
    assert "Max-Age=0" in client.get("/clear").headers["Set-Cookie"]
    with pytest.raises(ValueError, match="secret_key"):
        init_app(flask.Flask(__name__))


def test_init_app_twice_is_refused(store: MemoryStore) -> None:
    app = flask.Flask(__name__)
    app.secret_key = SECRET
    init_app(app, store=store)
    with pytest.raises(RuntimeError, match="already called"):
        init_app(app, store=store)
