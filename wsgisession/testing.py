"""Test helpers for store authors: the store contract suite and a call-counting store.

Run the contract against a new store by subclassing :class:`StoreContract` in a
pytest module and providing a ``store_factory`` fixture that builds a store on a
real server for a given key prefix::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store_factory(self):
            return lambda prefix: MyStore("127.0.0.1:9999", prefix=prefix)

Importing this module imports pytest; nothing else in wsgisession does.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from .ids import store_key
from .store import Clearable, Countable, Prunable, Record, SessionStore, VersionConflict

__all__ = [
    "CountClearContract",
    "CountingStore",
    "PruneContract",
    "RoundTripContract",
    "StoreContract",
    "StoreFactory",
    "call",
    "require_module",
    "require_server",
    "serve",
    "session_cookie",
]

StoreFactory = Callable[[str], SessionStore]
"""Builds a store over the shared test server whose keys all start with a prefix."""

DAY = 86_400


class CountingStore:
    """Wraps a store and counts the calls that reach it, one per round trip.

    ``calls`` is a :class:`collections.Counter` by method name; ``total`` sums it.
    """

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    @property
    def total(self) -> int:
        """Round trips made so far."""
        return sum(self.calls.values())

    def reset(self) -> None:
        """Forget the calls counted so far."""
        self.calls.clear()

    def load(self, key: str) -> Record | None:
        """Count, then load."""
        self.calls["load"] += 1
        return self.inner.load(key)

    def save(self, key: str, data: bytes, ttl: int, version: int | None = None) -> int:
        """Count, then save."""
        self.calls["save"] += 1
        return self.inner.save(key, data, ttl, version)

    def touch(self, key: str, ttl: int) -> bool:
        """Count, then touch."""
        self.calls["touch"] += 1
        return self.inner.touch(key, ttl)

    def delete(self, key: str) -> None:
        """Count, then delete."""
        self.calls["delete"] += 1
        self.inner.delete(key)

    def close(self) -> None:
        """Close the wrapped store (not counted)."""
        self.inner.close()


def _key() -> str:
    return uuid.uuid4().hex


class _StorePerTest:
    """Fixtures of the contract classes: each test gets stores on a prefix of its own,
    so tests never see each other's records."""

    @pytest.fixture
    def prefix(self) -> str:
        """A prefix no other test uses."""
        return f"t{uuid.uuid4().hex[:12]}:"

    @pytest.fixture
    def store(self, store_factory: StoreFactory, prefix: str) -> Iterator[SessionStore]:
        """A store on this test's prefix, closed afterwards."""
        store = store_factory(prefix)
        yield store
        store.close()


class StoreContract(_StorePerTest):
    """The behaviour every :class:`~wsgisession.store.SessionStore` must show.

    Subclasses provide the ``store_factory`` fixture. A store with the optional
    capabilities also takes :class:`PruneContract` and :class:`CountClearContract`.
    """

    def test_every_capability_is_under_test(self, store: SessionStore) -> None:
        if isinstance(store, Prunable):
            assert isinstance(self, PruneContract), "the store has prune(): add PruneContract to the test class"
        if isinstance(store, Countable) and isinstance(store, Clearable):
            assert isinstance(self, CountClearContract), "the store has count() and clear(): add CountClearContract"

    def test_load_missing_is_none(self, store: SessionStore) -> None:
        assert store.load(_key()) is None

    def test_create_then_load(self, store: SessionStore) -> None:
        key = _key()
        before = time.time()
        version = store.save(key, b"\x00payload\xff", 60)
        record = store.load(key)
        assert record is not None
        assert record.data == b"\x00payload\xff"
        assert record.version == version
        assert before + 58 <= record.expires_at <= time.time() + 61

    def test_create_conflicts_with_live_record(self, store: SessionStore) -> None:
        key = _key()
        store.save(key, b"first", 60)
        with pytest.raises(VersionConflict):
            store.save(key, b"second", 60)
        assert _data(store, key) == b"first"

    def test_conditional_save_replaces(self, store: SessionStore) -> None:
        key = _key()
        v1 = store.save(key, b"one", 60)
        v2 = store.save(key, b"two", 60, version=v1)
        assert v2 != v1
        record = store.load(key)
        assert record is not None and record.data == b"two" and record.version == v2

    def test_stale_version_conflicts(self, store: SessionStore) -> None:
        key = _key()
        v1 = store.save(key, b"one", 60)
        store.save(key, b"two", 60, version=v1)
        with pytest.raises(VersionConflict):
            store.save(key, b"stale", 60, version=v1)
        assert _data(store, key) == b"two"

    def test_save_after_delete_conflicts_and_does_not_recreate(self, store: SessionStore) -> None:
        key = _key()
        v1 = store.save(key, b"one", 60)
        store.delete(key)
        with pytest.raises(VersionConflict):
            store.save(key, b"ghost", 60, version=v1)
        assert store.load(key) is None

    def test_conditional_save_of_missing_key_conflicts(self, store: SessionStore) -> None:
        with pytest.raises(VersionConflict):
            store.save(_key(), b"x", 60, version=12345)

    def test_versions_are_not_reused_after_recreate(self, store: SessionStore) -> None:
        key = _key()
        v1 = store.save(key, b"one", 60)
        store.delete(key)
        v2 = store.save(key, b"two", 60)
        assert v2 != v1
        with pytest.raises(VersionConflict):
            store.save(key, b"stale", 60, version=v1)

    def test_touch_moves_expiry_only(self, store: SessionStore) -> None:
        key = _key()
        version = store.save(key, b"data", 10)
        assert store.touch(key, 3 * DAY)
        record = store.load(key)
        assert record is not None
        assert record.data == b"data" and record.version == version
        assert record.expires_at >= time.time() + 3 * DAY - 5
        # The version is unchanged, so a request that loaded before the touch may still save.
        store.save(key, b"after", 60, version=version)

    def test_touch_missing_is_false(self, store: SessionStore) -> None:
        assert store.touch(_key(), 60) is False

    def test_expired_record_is_gone(self, store: SessionStore) -> None:
        key, other = _key(), _key()
        version = store.save(key, b"short", 1)
        store.save(other, b"short", 1)
        time.sleep(1.2)
        assert store.load(key) is None
        assert store.touch(other, 60) is False
        with pytest.raises(VersionConflict):
            store.save(key, b"late", 60, version=version)
        store.save(key, b"fresh", 60)
        assert _data(store, key) == b"fresh"

    def test_long_ttl(self, store: SessionStore) -> None:
        key = _key()
        store.save(key, b"remember me", 60 * DAY)
        record = store.load(key)
        assert record is not None
        assert abs(record.expires_at - (time.time() + 60 * DAY)) < 5

    def test_delete(self, store: SessionStore) -> None:
        key = _key()
        store.save(key, b"x", 60)
        store.delete(key)
        assert store.load(key) is None
        store.delete(key)  # a missing record is not an error
        assert store.load(key) is None

    def test_large_binary_payload(self, store: SessionStore) -> None:
        key = _key()
        payload = bytes(range(256)) * 256  # 64 KiB
        store.save(key, payload, 60)
        assert _data(store, key) == payload

    def test_prefix_isolation(self, store_factory: StoreFactory, prefix: str) -> None:
        a, b = store_factory(prefix + "a:"), store_factory(prefix + "b:")
        try:
            key = _key()
            a.save(key, b"from a", 60)
            assert b.load(key) is None
            b.save(key, b"from b", 60)
            assert _data(a, key) == b"from a"
            if isinstance(a, Countable):
                assert a.count() == 1
            if isinstance(a, Clearable):
                a.clear()
                assert a.load(key) is None
                assert _data(b, key) == b"from b"
        finally:
            a.close()
            b.close()

    def test_close_then_reuse(self, store: SessionStore) -> None:
        key = _key()
        store.save(key, b"x", 60)
        store.close()
        assert _data(store, key) == b"x"

    def test_concurrent_creates_one_wins(self, store: SessionStore) -> None:
        key = _key()
        wins: list[int] = []

        def create(n: int) -> None:
            try:
                store.save(key, str(n).encode(), 60)
                wins.append(n)
            except VersionConflict:
                pass

        _in_threads(8, create)
        assert len(wins) == 1
        assert _data(store, key) == str(wins[0]).encode()

    def test_threads_conditional_increments_lose_nothing(self, store: SessionStore) -> None:
        key = _key()
        store.save(key, b"0", 60)
        conflicts: list[int] = []

        def increment(_: int) -> None:
            for _ in range(25):
                while True:
                    record = store.load(key)
                    assert record is not None
                    try:
                        store.save(key, str(int(record.data) + 1).encode(), 60, record.version)
                        break
                    except VersionConflict:
                        conflicts.append(1)

        _in_threads(8, increment)
        assert _data(store, key) == b"200"


class PruneContract(_StorePerTest):
    """For a store with ``prune()``."""

    def test_prune_drops_only_expired(self, store: SessionStore) -> None:
        assert isinstance(store, Prunable)
        live, dead = _key(), _key()
        store.save(live, b"live", 60)
        store.save(dead, b"dead", 1)
        time.sleep(1.2)
        assert store.prune() >= 1
        assert _data(store, live) == b"live"
        assert store.load(dead) is None


class CountClearContract(_StorePerTest):
    """For a store with ``count()`` and ``clear()``."""

    def test_count_and_clear(self, store: SessionStore) -> None:
        assert isinstance(store, Countable) and isinstance(store, Clearable)
        for _ in range(3):
            store.save(_key(), b"x", 60)
        assert store.count() == 3
        store.clear()
        assert store.count() == 0


def _data(store: SessionStore, key: str) -> bytes:
    record = store.load(key)
    assert record is not None, f"no record under {key}"
    return record.data


def _in_threads(n: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # collected and re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def require_server(what: str, reason: str) -> None:
    """Skip the calling test because ``what`` is unreachable (``reason`` says why),
    or fail it when ``WSGISESSION_REQUIRE_SERVERS=1`` says every server must be there.
    """
    message = f"{what} is not available: {reason}"
    if os.environ.get("WSGISESSION_REQUIRE_SERVERS") == "1":
        pytest.fail(message + " (WSGISESSION_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """Import ``name`` for the calling tests, which are skipped without it (or fail,
    under ``WSGISESSION_REQUIRE_SERVERS=1``); usable at module level."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require_server(f"the {name} package", str(exc))
        raise  # not reached: require_server skips or fails


def call(
    app: Any, path: str, cookie: str | None = None, scheme: str = "http"
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call a WSGI ``app`` directly with a GET of ``path``; return status, headers, body."""
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ["PATH_INFO"], environ["wsgi.url_scheme"] = path, scheme
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    return serve(app, environ)


def serve(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Serve one request in ``environ`` as a server would: drain and close the body;
    return status, headers and body."""
    captured: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured[:] = [status, headers]
        return lambda chunk: None

    body_iter = app(environ, start_response)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    return captured[0], captured[1], body


def session_cookie(headers: list[tuple[str, str]], name: str = "session") -> str | None:
    """The ``name=value`` pair a response sets for cookie ``name``, if any."""
    for header, value in headers:
        if header.lower() == "set-cookie" and value.startswith(name + "="):
            return value.split(";", 1)[0]
    return None


def _cookie_id(cookie: str) -> str:
    """The session id in a ``session=<id>.<signature>`` pair."""
    return cookie.split("=", 1)[1].rsplit(".", 1)[0]


def _round_trip_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    session = environ["wsgisession"]
    action = environ["PATH_INFO"].strip("/")
    if action == "read":
        session.get("n")
    elif action == "write":
        session["n"] = session.get("n", 0) + 1
    elif action == "destroy":
        session.destroy()
    elif action == "read-destroy":
        session.get("n")
        session.destroy()
    elif action == "regenerate":
        session.regenerate()
    elif action == "empty":
        session.clear()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class RoundTripContract:
    """DESIGN.md's table of store round trips per request, counted on a real store.

    Subclasses provide the same ``store_factory`` fixture as for :class:`StoreContract`.
    """

    @pytest.fixture
    def counted(self, store_factory: StoreFactory) -> Iterator[CountingStore]:
        """The store under test, wrapped to count its calls, on a prefix of its own."""
        store = CountingStore(store_factory(f"rt{uuid.uuid4().hex[:12]}:"))
        yield store
        store.close()

    def _app(self, store: CountingStore, **options: Any) -> Any:
        from .middleware import SessionMiddleware  # noqa: PLC0415 - keeps the store contract free of it

        return SessionMiddleware(_round_trip_app, secret="round-trip-secret-" + "x" * 32, store=store, **options)

    def _existing(self, app: Any, store: CountingStore) -> str:
        cookie = session_cookie(call(app, "/write")[1])
        assert cookie is not None
        store.reset()
        return cookie

    def test_untouched_costs_nothing(self, counted: CountingStore) -> None:
        app = self._app(counted)
        cookie = self._existing(app, counted)
        for sent in (None, cookie, "session=garbage", cookie[:-3] + "AAA", "session=" + "x" * 5000):
            call(app, "/", sent)
        assert counted.total == 0

    def test_bad_cookie_then_read_costs_nothing(self, counted: CountingStore) -> None:
        app = self._app(counted)
        cookie = self._existing(app, counted)
        for sent in (None, "session=garbage", cookie[:-3] + "AAA", "session=\u00e9t\u00e9"):
            call(app, "/read", sent)
        assert counted.total == 0

    def test_read_existing_is_one_load(self, counted: CountingStore) -> None:
        app = self._app(counted)
        cookie = self._existing(app, counted)
        call(app, "/read", cookie)
        assert counted.calls == {"load": 1}

    def test_change_existing_is_load_and_save(self, counted: CountingStore) -> None:
        app = self._app(counted)
        cookie = self._existing(app, counted)
        call(app, "/write", cookie)
        assert counted.calls == {"load": 1, "save": 1}

    def test_create_is_one_save(self, counted: CountingStore) -> None:
        app = self._app(counted)
        call(app, "/write")
        assert counted.calls == {"save": 1}

    def test_destroy_is_at_most_two(self, counted: CountingStore) -> None:
        app = self._app(counted)
        cookie = self._existing(app, counted)
        call(app, "/destroy", cookie)
        assert counted.calls == {"delete": 1}
        cookie = self._existing(app, counted)
        call(app, "/read-destroy", cookie)
        assert counted.calls == {"load": 1, "delete": 1}

    def test_emptying_is_load_conditional_tombstone_delete(self, counted: CountingStore) -> None:
        # The delete is made conditional by a tombstone saved on the version loaded, so
        # that a key a concurrent request added meanwhile is merged, not deleted.
        app = self._app(counted)
        cookie = self._existing(app, counted)
        _, headers, _ = call(app, "/empty", cookie)
        assert counted.calls == {"load": 1, "save": 1, "delete": 1}
        assert session_cookie(headers) == "session="
        assert counted.inner.load(store_key(_cookie_id(cookie))) is None

    def test_regenerate_is_load_save_tombstone_delete(self, counted: CountingStore) -> None:
        # The old id gets a conditional tombstone (changes saved to it meanwhile are
        # carried over), then is deleted (so no rolling touch can revive it).
        app = self._app(counted)
        cookie = self._existing(app, counted)
        call(app, "/regenerate", cookie)
        assert counted.calls == {"load": 1, "save": 2, "delete": 1}
        assert counted.inner.load(store_key(_cookie_id(cookie))) is None

    def test_rolling_touches_only_when_due(self, counted: CountingStore) -> None:
        app = self._app(counted, rolling=True, max_age=3600)
        cookie = self._existing(app, counted)
        call(app, "/", cookie)
        assert counted.calls == {"load": 1}  # just written: no refresh due yet
        counted.inner.touch(store_key(_cookie_id(cookie)), 1000)  # as if the session had idled for 2600 s
        counted.reset()
        _, headers, _ = call(app, "/", cookie)
        assert counted.calls == {"load": 1, "touch": 1}
        assert session_cookie(headers) == cookie
