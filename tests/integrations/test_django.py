"""Django on wsgisession: the real Django, auth, messages and CSRF, through WebTest."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from webtest import TestApp

from wsgisession.testing import require_module

require_module("django")
os.environ["DJANGO_SETTINGS_MODULE"] = "django_settings"

import django  # type: ignore[import-untyped]

django.setup()

from django.contrib.auth.models import User  # type: ignore[import-untyped]
from django.core.management import call_command  # type: ignore[import-untyped]
from django.core.wsgi import get_wsgi_application  # type: ignore[import-untyped]

from wsgisession import MemoryStore
from wsgisession.ids import store_key
from wsgisession.integrations.django import SessionMiddleware, wrap


@pytest.fixture(scope="module", autouse=True)
def database() -> None:
    call_command("migrate", verbosity=0)
    if not User.objects.filter(username="ada").exists():
        User.objects.create_user("ada", password="lovelace")


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def client(store: MemoryStore) -> Iterator[TestApp]:
    yield TestApp(wrap(get_wsgi_application(), store=store))


def sid(client: TestApp) -> str:
    return str(client.cookies["sessionid"]).rsplit(".", 1)[0]


def post(client: TestApp, url: str, **fields: Any) -> Any:
    token = client.get("/token").text
    return client.post(url, {"csrfmiddlewaretoken": token, **fields}, expect_errors=True)


def test_counter_across_requests_with_settings_cookie(client: TestApp) -> None:
    response = client.get("/")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("sessionid=") and "Max-Age=3600" in cookie  # SESSION_COOKIE_NAME and _AGE
    assert client.get("/").text.startswith("n=2 ")
    assert client.get("/").text.startswith("n=3 ")


def test_login_rotates_id_and_logout_kills_it(client: TestApp, store: MemoryStore) -> None:
    client.get("/")
    anonymous, anonymous_cookie = sid(client), client.cookies["sessionid"]
    assert post(client, "/login", username="ada", password="lovelace").text == "ok"
    logged_in, logged_in_cookie = sid(client), client.cookies["sessionid"]
    assert logged_in != anonymous and store.load(store_key(anonymous)) is None
    assert client.get("/").text == "n=2 user=ada messages=welcome ada"  # data kept, message shown
    assert client.get("/").text == "n=3 user=ada messages="  # ... once

    assert post(client, "/logout").text == "ok"
    assert store.load(store_key(logged_in)) is None and sid(client) != logged_in
    assert client.get("/").text == "n=1 user=- messages=bye"

    for dead in (anonymous_cookie, logged_in_cookie):
        replay = TestApp(client.app)
        replay.set_cookie("sessionid", dead)
        assert replay.get("/").text == "n=1 user=- messages="


def test_async_login_and_logout(client: TestApp, store: MemoryStore) -> None:
    client.get("/")
    anonymous = sid(client)
    assert post(client, "/alogin", username="ada", password="lovelace").text == "ok"
    assert sid(client) != anonymous and store.load(store_key(anonymous)) is None
    assert "user=ada" in client.get("/").text
    logged_in = sid(client)
    assert post(client, "/alogout").text == "ok"
    assert store.load(store_key(logged_in)) is None and "user=-" in client.get("/").text


def test_bad_password_leaves_the_user_anonymous(client: TestApp) -> None:
    assert post(client, "/login", username="ada", password="wrong").status_int == 401
    assert "user=-" in client.get("/").text


def test_csrf_token_lives_in_the_session(client: TestApp) -> None:
    first = client.get("/token").text
    client.get("/")
    assert client.get("/token").text  # masked differently each time, same secret
    refused = client.post("/login", {"username": "ada", "password": "lovelace"}, expect_errors=True)
    assert refused.status_int == 403
    ok = client.post("/login", {"csrfmiddlewaretoken": first, "username": "ada", "password": "lovelace"})
    assert ok.text == "ok"
    stranger = TestApp(client.app)
    fields = {"csrfmiddlewaretoken": first, "username": "a", "password": "b"}
    forged = stranger.post("/login", fields, expect_errors=True)
    assert forged.status_int == 403


def test_set_expiry(client: TestApp) -> None:
    response = client.get("/expiry/0")
    assert response.text == "3600 True"
    assert "Max-Age" not in response.headers["Set-Cookie"]
    response = client.get("/expiry/60")
    assert response.text == "60 False"
    assert "Max-Age=60" in response.headers["Set-Cookie"]


def test_test_cookie_and_session_key(client: TestApp) -> None:
    assert client.get("/key").text == "None True"
    assert client.get("/testcookie").text == "set key=True"
    assert client.get("/testcookie").text == "worked"
    assert client.get("/key").text == "None True"  # emptied: deleted, no key


def test_middleware_without_wrap_says_how_to_fix() -> None:
    from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]
    from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]

    middleware = SessionMiddleware(lambda request: HttpResponse())
    with pytest.raises(ImproperlyConfigured, match="wrap the WSGI application"):
        middleware(HttpRequest())
