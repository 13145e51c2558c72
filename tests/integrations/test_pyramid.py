"""Pyramid on wsgisession: ISession, flash queues and CSRF on the real Pyramid, through WebTest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from wsgisession.testing import require_module

require_module("pyramid")

from pyramid.config import Configurator  # type: ignore[import-untyped]
from pyramid.interfaces import ISession  # type: ignore[import-untyped]
from pyramid.response import Response  # type: ignore[import-untyped]

from wsgisession import SessionMiddleware
from wsgisession.integrations._settings import options_from_settings
from wsgisession.integrations.pyramid import session_factory

SECRET = "pyramid-tests-" + "p" * 40


def add_views(config: Any) -> None:
    def text(body: str) -> Any:
        return Response(body, content_type="text/plain")

    def count(request: Any) -> Any:
        request.session["n"] = request.session.get("n", 0) + 1
        return text(str(request.session["n"]))

    def token(request: Any) -> Any:
        return text(request.session.get_csrf_token())

    def invalidate(request: Any) -> Any:
        request.session.invalidate()
        return text("invalidated")

    def flash(request: Any) -> Any:
        request.session.flash(request.matchdict["msg"], queue="q", allow_duplicate=False)
        return text("peek=" + ",".join(request.session.peek_flash("q")))

    def pop(request: Any) -> Any:
        return text(",".join(request.session.pop_flash("q")))

    def form(request: Any) -> Any:
        return text("posted")

    def state(request: Any) -> Any:
        session = request.session
        return text(f"{ISession.providedBy(session)} {session.new} {session.created > 0}")

    def boom(request: Any) -> Any:
        request.session["lost"] = True
        raise RuntimeError("boom")

    for name, pattern, view in [
        ("count", "/", count),
        ("token", "/token", token),
        ("invalidate", "/invalidate", invalidate),
        ("flash", "/flash/{msg}", flash),
        ("pop", "/pop", pop),
        ("form", "/form", form),
        ("state", "/state", state),
        ("boom", "/boom", boom),
    ]:
        config.add_route(name, pattern)
        config.add_view(view, route_name=name, require_csrf=name == "form")


def included_app(tmp_path: Path, **settings: str) -> TestApp:
    """The ini-file way: config.include() with string settings."""
    base = {
        "wsgisession.secret": SECRET,
        "wsgisession.store": f"sqlite:///{tmp_path}/s.db",
        "wsgisession.max_age": "600",
    }
    with Configurator(settings={**base, **settings}) as config:
        config.include("wsgisession.integrations.pyramid")
        add_views(config)
    return TestApp(config.make_wsgi_app())


def wrapped_app() -> TestApp:
    """The WSGI way: set_session_factory() and SessionMiddleware around the app."""
    with Configurator() as config:
        config.set_session_factory(session_factory())
        add_views(config)
    return TestApp(SessionMiddleware(config.make_wsgi_app(), secret=SECRET))


@pytest.fixture(params=["include", "wrap"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> TestApp:
    return included_app(tmp_path) if request.param == "include" else wrapped_app()


def test_counter_across_requests(client: TestApp) -> None:
    assert [client.get("/").text for _ in range(3)] == ["1", "2", "3"]


def test_the_response_keeps_its_headers(client: TestApp) -> None:
    head = client.head("/")
    assert head.headers["Content-Length"] == "1" and head.headers["Set-Cookie"].startswith("session=")
    response = client.get("/")
    assert response.text == "2" and response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Vary"] == "Cookie"


def test_session_is_an_isession(client: TestApp) -> None:
    assert client.get("/state").text == "True True True"
    client.get("/")
    assert client.get("/state").text == "True False True"


def test_csrf_token_is_stable_then_new_after_invalidate(client: TestApp) -> None:
    token = client.get("/token").text
    assert client.get("/token").text == token
    assert client.post("/form", {"csrf_token": token}).text == "posted"
    assert client.post("/form", {"csrf_token": "forged"}, expect_errors=True).status_int == 400
    client.get("/invalidate")
    renewed = client.get("/token").text
    assert renewed != token
    assert client.post("/form", {"csrf_token": token}, expect_errors=True).status_int == 400


def test_flash_queue_is_popped_once(client: TestApp) -> None:
    client.get("/flash/a")
    assert client.get("/flash/b").text == "peek=a,b"
    assert client.get("/flash/b").text == "peek=a,b"  # allow_duplicate=False
    assert client.get("/pop").text == "a,b"
    assert client.get("/pop").text == ""


def test_an_error_saves_nothing(client: TestApp) -> None:
    client.get("/")
    with pytest.raises(RuntimeError):
        client.get("/boom")
    assert client.get("/").text == "2"


def test_include_reads_ini_settings(tmp_path: Path) -> None:
    client = included_app(tmp_path, **{"wsgisession.cookie_name": "sid", "wsgisession.samesite": "Strict"})
    cookie = client.get("/").headers["Set-Cookie"]
    assert cookie.startswith("sid=") and "Max-Age=600" in cookie and "SameSite=Strict" in cookie


def test_settings_are_converted_and_checked() -> None:
    options = options_from_settings(
        {"wsgisession.secret": "new\nold", "wsgisession.max_age": "none", "wsgisession.rolling": "yes", "other": "x"}
    )
    assert options == {"secret": ["new", "old"], "max_age": None, "rolling": True}
    with pytest.raises(ValueError, match=r"unknown setting 'wsgisession\.colour'"):
        options_from_settings({"wsgisession.colour": "red"})
    with pytest.raises(ValueError, match=r"wsgisession\.rolling"):
        options_from_settings({"wsgisession.rolling": "perhaps"})
    with Configurator(settings={}) as config, pytest.raises(ValueError, match=r"wsgisession\.secret"):
        config.include("wsgisession.integrations.pyramid")


def test_factory_without_middleware_says_how_to_fix() -> None:
    with Configurator() as config:
        config.set_session_factory(session_factory())
        add_views(config)
    with pytest.raises(RuntimeError, match="wrap the application"):
        TestApp(config.make_wsgi_app()).get("/")
