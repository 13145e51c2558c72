"""Bottle on wsgisession: the SessionPlugin on the real Bottle, through WebTest."""

from __future__ import annotations

from typing import Any

import pytest
from webtest import TestApp

from wsgisession.testing import require_module

bottle = require_module("bottle")

from wsgisession import Session, SessionMiddleware
from wsgisession.integrations.bottle import SessionPlugin

SECRET = "bottle-tests-" + "b" * 40


def make_app() -> Any:
    app = bottle.Bottle()
    app.install(SessionPlugin())

    def count(session: Session) -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    def item(name: str, session: Session) -> str:
        session.setdefault("items", []).append(name)
        return ",".join(session["items"])

    def plain() -> str:
        return str(bottle.request.environ["wsgisession"].get("n"))

    def login(session: Session) -> None:
        session.regenerate()
        session["user"] = bottle.request.forms.get("user")
        bottle.redirect("/whoami")

    def whoami(session: Session) -> str:
        return str(session.get("user"))

    app.route("/", callback=count)
    app.route("/item/<name>", callback=item)
    app.route("/plain", callback=plain)
    app.route("/login", method="POST", callback=login)
    app.route("/whoami", callback=whoami)
    return app


@pytest.fixture
def client() -> TestApp:
    return TestApp(SessionMiddleware(make_app(), secret=SECRET))


def test_counter_across_requests(client: TestApp) -> None:
    assert [client.get("/").text for _ in range(3)] == ["1", "2", "3"]


def test_route_arguments_and_the_session_together(client: TestApp) -> None:
    client.get("/item/a")
    assert client.get("/item/b").text == "a,b"


def test_routes_without_the_parameter_use_the_environ(client: TestApp) -> None:
    client.get("/")
    assert client.get("/plain").text == "1"


def test_redirect_after_login_carries_the_new_id(client: TestApp) -> None:
    client.get("/")
    before = client.cookies["session"]
    response = client.post("/login", {"user": "ada"})
    assert response.status_int in (302, 303) and client.cookies["session"] != before
    assert response.follow().text == "ada"


def test_one_plugin_per_app_and_a_missing_middleware_is_named() -> None:
    app = make_app()
    with pytest.raises(bottle.PluginError):
        app.install(SessionPlugin(keyword="s"))
    app.catchall = False
    with pytest.raises(KeyError, match="wrap the application in SessionMiddleware"):
        TestApp(app).get("/")
