"""SessionMiddleware over a real SQLite store, through WebTest."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from conftest import SECRET, echo_app
from hypothesis import given, settings
from hypothesis import strategies as st
from webtest import TestApp

from wsgisession import MemoryStore, SessionMiddleware, SQLiteStore, StoreUnavailable
from wsgisession.ids import store_key
from wsgisession.serializers import JSONSerializer, SerializationError
from wsgisession.testing import CountingStore, serve

Client = Callable[..., TestApp]


def set_cookies(response: Any) -> list[str]:
    return list(response.headers.getall("Set-Cookie"))


def session_id(client: TestApp) -> str:
    return str(client.cookies["session"]).rsplit(".", 1)[0]


def test_counter_across_requests_and_cookie_attributes(client: TestApp) -> None:
    response = client.get("/set/n/1")
    [cookie] = set_cookies(response)
    assert "Max-Age=1209600" in cookie and "expires=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "secure" not in cookie.lower()
    assert client.get("/get/n").text == "1"


def test_read_only_request_sets_no_cookie(client: TestApp) -> None:
    client.get("/set/n/1")
    response = client.get("/get/n")
    assert set_cookies(response) == []
    assert response.headers["Vary"] == "Cookie"


def test_untouched_request_has_no_vary_and_no_cookie(client: TestApp) -> None:
    response = client.get("/")
    assert "Vary" not in response.headers and set_cookies(response) == []


def test_vary_is_merged_with_the_apps(make_client: Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgisession"]["k"] = 1
        start_response("200 OK", [("Vary", "Accept-Encoding"), ("Set-Cookie", "theme=dark; Path=/")])
        return [b""]

    response = make_client(app).get("/")
    assert response.headers["Vary"] == "Accept-Encoding, Cookie"
    cookies = set_cookies(response)
    assert cookies[0] == "theme=dark; Path=/" and cookies[1].startswith("session=")


def test_nested_mutation_is_saved(client: TestApp) -> None:
    client.get("/append/cart/apple")
    client.get("/append/cart/pear")
    assert client.get("/get/cart").text == "['apple', 'pear']"


def test_regenerate_keeps_data_and_kills_old_id(client: TestApp, store: CountingStore) -> None:
    client.get("/set/user/ada")
    old = session_id(client)
    client.get("/regenerate")
    assert session_id(client) != old
    assert client.get("/get/user").text == "ada"
    assert store.inner.load(store_key(old)) is None


def test_destroy_deletes_record_and_expires_cookie(make_client: Client, store: CountingStore) -> None:
    client = make_client(path="/app", domain="example.com")
    [created] = set_cookies(client.get("/set/user/ada"))
    value = created.split(";", 1)[0]
    sid = value.split("=", 1)[1].rsplit(".", 1)[0]
    [cookie] = set_cookies(client.get("/destroy", headers={"Cookie": value}))
    assert cookie.startswith("session=;") and "Max-Age=0" in cookie
    assert "Path=/app" in cookie and "Domain=example.com" in cookie
    assert store.inner.load(store_key(sid)) is None


def test_emptied_session_is_deleted_not_stored_empty(client: TestApp, store: CountingStore) -> None:
    client.get("/set/k/v")
    sid, old_cookie = session_id(client), f"session={client.cookies['session']}"
    [cookie] = set_cookies(client.get("/del/k"))
    assert "Max-Age=0" in cookie
    assert store.inner.load(store_key(sid)) is None
    store.reset()
    client.get("/set/n/1", headers={"Cookie": old_cookie})
    assert store.calls == {"load": 1, "save": 1}
    assert session_id(client) != sid and client.get("/get/k").text == "None"


def test_verified_id_without_record_is_not_adopted(client: TestApp, store: CountingStore) -> None:
    client.get("/set/k/v")
    sid = session_id(client)
    store.inner.delete(store_key(sid))
    client.get("/set/k/again")
    assert session_id(client) != sid


@pytest.mark.parametrize(
    "cookie",
    [
        "session=",
        "session=garbage",
        "session=abc.def",
        "session=" + "A" * 43 + "." + "B" * 43,
        "session=" + "x" * 5000,
        "session=\u00e9t\u00e9.\u00e9",
        'session="quoted.value"',
        "session=a.b; session=c.d",
    ],
)
def test_bad_cookie_is_a_new_session(client: TestApp, store: CountingStore, cookie: str) -> None:
    store.reset()
    response = client.get("/get/k", headers={"Cookie": cookie})
    assert response.text == "None"
    assert store.total == 0


def test_truncated_cookie_is_a_new_session(client: TestApp, store: CountingStore) -> None:
    client.get("/set/k/v")
    value = str(client.cookies["session"])
    store.reset()
    fresh = client.get("/get/k", headers={"Cookie": f"session={value[:-1]}"})
    assert fresh.text == "None" and store.total == 0


def test_garbage_then_valid_cookie_uses_the_valid_one(client: TestApp) -> None:
    client.get("/set/k/v")
    value = str(client.cookies["session"])
    response = client.get("/get/k", headers={"Cookie": f"session=garbage; session={value}"})
    assert response.text == "v"


def test_key_ring_first_signs_all_verify(make_client: Client) -> None:
    old = make_client(secret="old-secret-" + "o" * 32)
    old.get("/set/k/v")
    value = str(old.cookies["session"])
    rotated = make_client(secret=["new-secret-" + "n" * 32, "old-secret-" + "o" * 32])
    assert rotated.get("/get/k", headers={"Cookie": f"session={value}"}).text == "v"
    rotated.get("/set/fresh/1")
    new_value = str(rotated.cookies["session"])
    ring = rotated.app.keys
    assert ring.signed_by(value) == 1 and ring.signed_by(new_value) == 0
    retired = make_client(secret="new-secret-" + "n" * 32)
    assert retired.get("/get/k", headers={"Cookie": f"session={value}"}).text == "None"


def test_secure_auto_follows_the_request_scheme(client: TestApp) -> None:
    [cookie] = set_cookies(client.get("/set/k/v", extra_environ={"wsgi.url_scheme": "https"}))
    assert "; secure" in cookie


def test_forwarded_proto_only_with_trust_proxy(make_client: Client) -> None:
    headers = {"X-Forwarded-Proto": "https"}
    [untrusted] = set_cookies(make_client().get("/set/k/v", headers=headers))
    assert "secure" not in untrusted.lower()
    [trusted] = set_cookies(make_client(trust_proxy=True).get("/set/k/v", headers=headers))
    assert "; secure" in trusted


def test_secure_cookie_on_plain_http_saves_nothing(
    make_client: Client, store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(secure=True)
    with caplog.at_level(logging.WARNING, logger="wsgisession"):
        first = client.get("/set/k/v")
        client.get("/set/k/v")
    assert set_cookies(first) == [] and store.calls["save"] == 0
    assert len([r for r in caplog.records if "plain http" in r.message]) == 1


def test_host_prefix_cookie(make_client: Client) -> None:
    client = make_client(cookie_name="__Host-sid")
    [cookie] = set_cookies(client.get("/set/k/v", extra_environ={"wsgi.url_scheme": "https"}))
    assert cookie.startswith("__Host-sid=") and "; secure" in cookie and "Domain" not in cookie


def test_every_cookie_attribute(make_client: Client) -> None:
    client = make_client(
        domain="example.com", secure=True, samesite="None", partitioned=True, priority="high", httponly=False
    )
    env = {"wsgi.url_scheme": "https", "HTTP_HOST": "example.com"}
    [cookie] = set_cookies(client.get("/set/k/v", extra_environ=env))
    for part in ("Domain=example.com", "secure", "SameSite=None", "Priority=High", "Partitioned", "Max-Age="):
        assert part in cookie
    assert "HttpOnly" not in cookie


@pytest.mark.parametrize(
    ("save_on_error", "after_500", "after_raise"), [(False, "v", "v"), (True, "changed", "raised")]
)
def test_errors_save_only_with_save_on_error(
    make_client: Client, save_on_error: bool, after_500: str, after_raise: str
) -> None:
    client = make_client(save_on_error=save_on_error)
    client.get("/set/k/v")
    client.get("/fail/k/changed", status=500)
    assert client.get("/get/k").text == after_500
    with pytest.raises(RuntimeError):
        client.get("/raise/k/raised")
    assert client.get("/get/k").text == after_raise


def test_commit_happens_before_the_status_leaves(make_client: Client, store: CountingStore) -> None:
    seen: list[bool] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["wsgisession"]
        session["user"] = "ada"
        start_response("302 Found", [("Location", "/")])
        seen.append(store.inner.load(store_key(session.id)) is not None)
        return [b""]

    make_client(app).get("/", status=302)
    assert seen == [True]


def test_changes_while_the_body_is_produced_are_saved_at_close(make_client: Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        session = environ["wsgisession"]
        session["before"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"part one"
        session["during"] = 2
        yield b"part two"

    client = make_client(app)
    client.get("/")
    cookie = f"session={client.cookies['session']}"
    assert make_client().get("/get/during", headers={"Cookie": cookie}).text == "2"


def test_per_session_max_age(make_client: Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["wsgisession"]
        session["user"] = "ada"
        session.max_age = None if environ["PATH_INFO"] == "/browser" else 30 * 86400
        start_response("200 OK", [])
        return [b""]

    client = make_client(app)
    [remember] = set_cookies(client.get("/remember"))
    assert "Max-Age=2592000" in remember
    [browser] = set_cookies(make_client(app).get("/browser"))
    assert "Max-Age" not in browser and "expires" not in browser


def test_idle_max_age_expires_the_session(make_client: Client) -> None:
    client = make_client(max_age=1)
    client.get("/set/k/v")
    time.sleep(1.2)
    assert client.get("/get/k").text == "None"


def test_absolute_timeout_caps_an_active_session(make_client: Client) -> None:
    client = make_client(absolute_timeout=2, rolling=True)
    [cookie] = set_cookies(client.get("/set/k/v"))
    assert "Max-Age=2;" in cookie or "Max-Age=1;" in cookie
    time.sleep(1)
    client.get("/set/k/w")
    time.sleep(1.2)
    assert client.get("/get/k").text == "None"


def test_unstorable_value_names_the_key_and_saves_nothing(make_client: Client, store: CountingStore) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgisession"]["when"] = object()
        start_response("200 OK", [])
        return [b""]

    with pytest.raises(SerializationError, match="'when'"):
        make_client(app).get("/")
    assert store.calls["save"] == 0


def test_undecodable_record_is_absent_deleted_and_logged(
    client: TestApp, store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/set/k/v")
    key = store_key(session_id(client))
    record = store.inner.load(key)
    assert record is not None
    store.inner.save(key, b"not a session", 60, record.version)
    with caplog.at_level(logging.WARNING, logger="wsgisession"):
        assert client.get("/get/k").text == "None"
    assert store.inner.load(key) is None
    assert any("cannot be decoded" in r.message for r in caplog.records)


def test_unreachable_store_raises_only_where_the_session_is_used(tmp_path: Any) -> None:
    store = SQLiteStore(str(tmp_path / "missing-dir" / "sessions.db"))
    client = TestApp(SessionMiddleware(_touching_app, secret=SECRET, store=store))
    assert client.get("/untouched").text == "fine"
    with pytest.raises(StoreUnavailable, match="missing-dir"):
        client.get("/touch")


def _touching_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/touch":
        environ["wsgisession"]["k"] = 1
    start_response("200 OK", [])
    return [b"fine"]


def test_save_uninitialized_stores_an_accessed_new_session(make_client: Client, store: CountingStore) -> None:
    client = make_client(save_uninitialized=True)
    response = client.get("/get/k")
    assert len(set_cookies(response)) == 1 and store.calls["save"] == 1
    assert set_cookies(make_client().get("/get/k")) == []


def test_environ_key_and_genid(make_client: Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["my.session"]["k"] = 1
        start_response("200 OK", [])
        return [environ["my.session"].id.encode()]

    ids = iter(["custom-id-" + str(n) * 20 for n in range(3)])
    client = make_client(app, environ_key="my.session", genid=lambda: next(ids))
    assert client.get("/").text == "custom-id-" + "1" * 20  # the first id checked genid at construction


def test_session_api(make_client: Client) -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["wsgisession"]
        seen["before"] = (session.is_new, session.modified)
        session["k"] = (1, 2)
        seen["after"] = (session.is_new, session.modified, "k" in session, len(session), dict(session))
        start_response("200 OK", [])
        return [b""]

    make_client(app).get("/")
    assert seen["before"] == (True, False)
    assert seen["after"] == (True, True, True, 1, {"k": (1, 2)})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"secret": ""}, "secret is empty"),
        ({"secret": []}, "secret is empty"),
        ({"secret": None}, "secret is required"),
        ({"secret": 12345}, "secret must be str, bytes or a list"),
        ({"store": 42}, "store must be a store URL or a SessionStore; int has no load"),
        ({"genid": lambda: "short"}, "genid returned 'short'"),
        ({"samesite": "None"}, "needs secure=True"),
        ({"samesite": "sideways"}, "samesite must be"),
        ({"cookie_name": "__Host-s", "domain": "example.com"}, "domain=None"),
        ({"cookie_name": "__Host-s", "path": "/app"}, "path='/'"),
        ({"cookie_name": "__Secure-s", "secure": False}, "needs secure=True"),
        ({"partitioned": True}, "needs secure=True"),
        ({"priority": "urgent"}, "priority must be"),
        ({"cookie_name": "bad name"}, "not a valid cookie name"),
        ({"max_age": 0}, "max_age must be"),
        ({"absolute_timeout": -1}, "absolute_timeout must be"),
        ({"store": "nosuch://x"}, "unknown session store scheme 'nosuch'"),
        ({"store": "sqlite://host/x.db"}, "has a host"),
        ({"store": "memory://?max_entires=5"}, "unknown option"),
        ({"conflicts": "pray"}, "conflicts must be"),
        ({"path": "app"}, "must start with '/'"),
        ({"path": "/caf\u00e9"}, "only URL path characters"),
        ({"path": "/a,b"}, "only URL path characters"),
        ({"samesite": True}, "samesite must be"),
    ],
)
def test_bad_configuration_fails_at_construction(options: dict[str, Any], message: str) -> None:
    options.setdefault("secret", SECRET)
    with pytest.raises(ValueError, match=message):
        SessionMiddleware(_touching_app, **options)


def test_short_secret_warns() -> None:
    with pytest.warns(UserWarning, match="at least 32"):
        SessionMiddleware(_touching_app, secret="short")


def test_save_uninitialized_keeps_an_empty_session(make_client: Client, store: CountingStore) -> None:
    client = make_client(save_uninitialized=True)
    client.get("/get/k")
    sid = session_id(client)
    response = client.get("/get/k")
    assert set_cookies(response) == [] and session_id(client) == sid
    assert store.inner.load(store_key(sid)) is not None


def test_switching_to_a_browser_session_cookie_is_sent(make_client: Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["wsgisession"]
        session["user"] = "ada"
        if environ["PATH_INFO"] == "/forget":
            session.max_age = None
        start_response("200 OK", [])
        return [b""]

    client = make_client(app, max_age=None)
    [first] = set_cookies(client.get("/"))
    assert "Max-Age" not in first
    assert set_cookies(client.get("/")) == []  # nothing new for the browser to learn
    remember = make_client(app)
    remember.get("/")
    [forget] = set_cookies(remember.get("/forget"))
    assert "Max-Age" not in forget


@settings(max_examples=300, deadline=None)
@given(
    cookie=st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=200)
    | st.lists(st.text('abcdefghijklmnopqrstuvwxyz.=;" -_', max_size=60), max_size=5).map("; ".join),
    proto=st.sampled_from(["", "https", "http, https", "\x00", "HTTPS , garbage"]),
)
def test_nothing_a_client_sends_makes_it_raise(cookie: str, proto: str) -> None:
    store = CountingStore(MemoryStore())
    app = SessionMiddleware(_reading_app, secret=SECRET, store=store, trust_proxy=True)
    environ = {"HTTP_COOKIE": "session=" + cookie, "HTTP_X_FORWARDED_PROTO": proto}
    status, _, body = serve(app, _environ(**environ))
    assert status == "200 OK" and body == b"None"
    assert store.total == 0


def _reading_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    value = environ["wsgisession"].get("k")
    start_response("200 OK", [])
    return [str(value).encode()]


def _environ(**extra: str) -> dict[str, Any]:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(extra)
    return environ


def test_deleting_max_age_follows_the_default_again(make_client: Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["wsgisession"]
        session["user"] = "ada"
        if environ["PATH_INFO"] == "/remember":
            session.max_age = 30 * 86400
        else:
            del session.max_age
        start_response("200 OK", [])
        return [str(session.max_age).encode()]

    client = make_client(app, max_age=600)
    assert client.get("/remember").text == "2592000"
    response = client.get("/default")
    assert response.text == "600" and "Max-Age=600" in set_cookies(response)[0]


def test_change_through_a_kept_reference_after_start_response_is_saved(make_client: Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        cart = environ["wsgisession"].setdefault("cart", [])
        start_response("200 OK", [])
        cart.append("late")  # after the commit, through a reference taken before it
        return [b""]

    client = make_client(app)
    client.get("/")
    client.get("/")
    cookie = f"session={client.cookies['session']}"
    assert make_client().get("/get/cart", headers={"Cookie": cookie}).text == "['late', 'late']"


class CountingSerializer(JSONSerializer):
    def __init__(self) -> None:
        super().__init__()
        self.dumps_calls = 0

    def dumps(self, data: dict[str, Any]) -> bytes:
        self.dumps_calls += 1
        return super().dumps(data)


def test_reading_a_session_of_plain_values_encodes_nothing(make_client: Client) -> None:
    serializer = CountingSerializer()
    client = make_client(serializer=serializer)
    client.get("/set/n/1")
    serializer.dumps_calls = 0
    client.get("/get/n")
    assert serializer.dumps_calls == 0  # nothing set, and no value could be changed in place
    client.get("/set/n/2")
    assert serializer.dumps_calls == 1
    client.get("/append/cart/x")
    serializer.dumps_calls = 0
    client.get("/get/n")
    assert serializer.dumps_calls == 2  # a list could be changed in place: checked at start and at close
    assert client.get("/get/n").text == "2" and client.get("/get/cart").text == "['x']"


def test_a_body_that_raises_saves_nothing_more(make_client: Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        session = environ["wsgisession"]
        session["step"] = "started"
        start_response("200 OK", [])
        yield b"part one"
        session["paid"] = True
        raise RuntimeError("the body failed")

    middleware = make_client(app).app
    captured: list[Any] = []
    body = middleware(_environ(), lambda status, headers, exc_info=None: captured.extend(headers))
    with pytest.raises(RuntimeError):
        list(body)
    body.close()
    cookie = next(v for k, v in captured if k == "Set-Cookie").split(";", 1)[0]
    reader = make_client()
    assert reader.get("/get/step", headers={"Cookie": cookie}).text == "started"
    assert reader.get("/get/paid", headers={"Cookie": cookie}).text == "None"


def test_an_error_page_after_start_response_keeps_the_cookie_and_saves_nothing_more(
    make_client: Client, store: CountingStore
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["wsgisession"]
        session["cart"] = ["tea"]
        start_response("200 OK", [])
        try:
            raise ValueError("rendering failed")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        session["after_error"] = True
        return [b"error"]

    response = make_client(app).get("/", status=500)
    [cookie] = set_cookies(response)
    assert response.headers["Vary"] == "Cookie"
    value = cookie.split(";", 1)[0]
    assert make_client().get("/get/after_error", headers={"Cookie": value}).text == "None"
    assert make_client().get("/get/cart", headers={"Cookie": value}).text == "['tea']"


def test_a_save_after_the_headers_keeps_the_browsers_expiry(make_client: Client, store: CountingStore) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"streaming"
        environ["wsgisession"]["seen"] = True  # no cookie can carry a new expiry now

    client = make_client(max_age=100)
    client.get("/set/k/v")
    key = store_key(session_id(client))
    before = store.inner.load(key)
    time.sleep(1.5)
    make_client(app, max_age=100).get("/", headers={"Cookie": f"session={client.cookies['session']}"})
    after = store.inner.load(key)
    assert before is not None and after is not None and after.version != before.version
    assert abs(after.expires_at - before.expires_at) < 1


def test_rolling_renewal_never_fails_a_page_that_does_not_use_the_session(tmp_path: Any) -> None:
    working = TestApp(SessionMiddleware(echo_app, secret=SECRET, store=SQLiteStore(str(tmp_path / "s.db"))))
    working.get("/set/k/v")
    cookie = f"session={working.cookies['session']}"
    broken = SQLiteStore(str(tmp_path / "missing-dir" / "s.db"))
    client = TestApp(SessionMiddleware(_touching_app, secret=SECRET, store=broken, rolling=True))
    assert client.get("/untouched", headers={"Cookie": cookie}).text == "fine"


def test_secure_false_is_never_secure(make_client: Client) -> None:
    [cookie] = set_cookies(make_client(secure=False).get("/set/k/v", extra_environ={"wsgi.url_scheme": "https"}))
    assert "secure" not in cookie.lower()


def test_memory_store_under_several_processes_warns_once(
    store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    several = {**_environ(), "wsgi.multiprocess": True}
    in_memory = SessionMiddleware(echo_app, secret=SECRET, store="memory://")
    with caplog.at_level(logging.WARNING, logger="wsgisession"):
        for _ in range(3):
            serve(in_memory, dict(several))
    assert len([r for r in caplog.records if "each sees different sessions" in r.message]) == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="wsgisession"):
        serve(SessionMiddleware(echo_app, secret=SECRET, store="memory://"), _environ())  # one process: fine
        serve(SessionMiddleware(echo_app, secret=SECRET, store=store), dict(several))  # a shared store: fine
    assert not caplog.records
