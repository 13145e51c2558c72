"""Concurrent requests of one session, against every real store (issue 7).

No lost updates: many requests of one session that each change their own key all
land (``conflicts="merge"``), in threads of one process and in two gunicorn worker
processes; ``conflicts="overwrite"`` shows the loss merge prevents. A logout or a
regenerate racing with writers sticks: no in-flight request brings the old id back.
Deterministic interleavings pin down the merge rules one case at a time.

Counters (conflicts, merged, dropped, given up, client retries) are printed (see them
with ``pytest -s``), attached to the test report as properties, and appended as JSON
lines to the file named by ``WSGISESSION_CONCURRENCY_REPORT`` when it is set.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from concurrency_app import GIVEN_UP, SECRET, ContentionAnswer, build
from memcached_servers import MemcachedServer, find_memcached, free_port

from wsgisession import Countable, MemoryStore, Session, SessionMiddleware, SessionStore, StoreUnavailable, open_store
from wsgisession import payload as framing
from wsgisession.ids import store_key
from wsgisession.serializers import JSONSerializer
from wsgisession.store import Clearable
from wsgisession.testing import call, require_server, session_cookie

POSTGRES = os.environ.get("WSGISESSION_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("WSGISESSION_REDIS_URL", "redis://127.0.0.1:6379/0")
TESTS = Path(__file__).parent

ALL = ["memory", "sqlite", "memcached", "postgres", "redis"]
SHARED = ALL[1:]  # stores two processes can share; memory:// is per process

THREADS, REQUESTS = 16, 50
OVERWRITE_REQUESTS = 20  # the loss shows long before 50
WRITERS, WRITER_REQUESTS, RACE_AT = 8, 30, 10
HTTP_THREADS, HTTP_REQUESTS = 8, 25

Reporter = Callable[[str, dict[str, Any]], None]


# --- stores ----------------------------------------------------------------------------


@dataclass
class Backend:
    """One store under test: ``store`` for this process, ``url`` for another (``None``
    for memory, which another process cannot see)."""

    name: str
    store: SessionStore
    url: str | None


def _import_or_require(module: str, what: str) -> None:
    try:
        __import__(module)
    except ImportError as exc:
        require_server(what, f"cannot import {module}: {exc}")


@pytest.fixture(scope="module")
def memcached_url() -> Iterator[str]:
    """A memcached of this module's own on a free loopback port."""
    _import_or_require("wsgisession_memcached", "the memcached store")
    binary = find_memcached()
    if binary is None:
        require_server("memcached", "no memcached binary on PATH (apt-get install memcached)")
    assert binary is not None  # require_server skipped or failed the test
    server = MemcachedServer(binary).start()
    try:
        yield f"memcached://{server.address}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The test database with a table of this module's own, dropped afterwards."""
    _import_or_require("wsgisession_postgres", "the PostgreSQL store")
    table = f"wsgisession_conc_{uuid.uuid4().hex[:8]}"
    yield f"{POSTGRES}?table={table}"
    import psycopg

    try:
        with psycopg.connect(POSTGRES, connect_timeout=5, autocommit=True) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {table}")
    except psycopg.OperationalError:
        pass  # the server went away; the test already reported it


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The test Redis; each test keeps to a prefix of its own."""
    _import_or_require("wsgisession_redis", "the Redis store")
    return REDIS


@pytest.fixture(params=ALL)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each store in turn, on a prefix (or file) no other test uses."""
    name: str = request.param
    prefix = f"cc{uuid.uuid4().hex[:10]}:"
    if name == "memory":
        yield Backend(name, MemoryStore(), None)
        return
    if name == "sqlite":
        url = f"sqlite:///{tmp_path / 'sessions.db'}"
    else:
        base: str = request.getfixturevalue(f"{name}_url")
        separator = "&" if "?" in base else "?"
        url = f"{base}{separator}prefix={prefix}"
    store = open_store(url)
    try:
        store.load("0" * 64)
    except StoreUnavailable as exc:
        require_server(name, str(exc))
    yield Backend(name, store, url)
    if isinstance(store, Clearable):
        store.clear()
    store.close()


@pytest.fixture
def report(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> Reporter:
    """Prints a test's counters, attaches them to its report, and appends them to
    ``$WSGISESSION_CONCURRENCY_REPORT`` when set."""

    def emit(label: str, numbers: dict[str, Any]) -> None:
        line = {"test": request.node.name, "what": label, **numbers}
        print(f"\n[concurrency] {json.dumps(line)}")
        record_property(label, json.dumps(numbers))
        target = os.environ.get("WSGISESSION_CONCURRENCY_REPORT")
        if target:
            with open(target, "a") as out:
                out.write(json.dumps(line) + "\n")

    return emit


# --- helpers -----------------------------------------------------------------------------


def _sid(cookie: str) -> str:
    return cookie.split("=", 1)[1].rsplit(".", 1)[0]


def _stored(store: SessionStore, sid: str) -> dict[str, Any] | None:
    """The data stored for session ``sid``, read straight from the store."""
    record = store.load(store_key(sid))
    if record is None:
        return None
    data: dict[str, Any] = JSONSerializer().loads(framing.decode(record.data).data)
    return data


def _json(body: bytes) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(body)
    return answer


def _seed(app: Any) -> str:
    status, headers, _ = call(app, "/seed")
    cookie = session_cookie(headers)
    assert status.startswith("200") and cookie is not None
    return cookie


def _in_threads(count: int, target: Callable[[int], None]) -> None:
    """Run ``target(0..count-1)`` in threads started together; re-raise the first error."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            target(index)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    if errors:
        raise errors[0]


def _torture(app: ContentionAnswer, cookie: str, requests: int = REQUESTS) -> tuple[dict[str, Any], int, float]:
    """16 threads each add one to a key of their own ``requests`` times; a request answered
    :data:`GIVEN_UP` saved nothing and is retried. Returns the final data, the
    retries and the seconds taken."""
    retries = [0] * THREADS

    def increment(index: int) -> None:
        done = 0
        while done < requests:
            status, _, _ = call(app, f"/incr/t{index}", cookie)
            if status == GIVEN_UP:
                retries[index] += 1
                continue
            assert status.startswith("200"), status
            done += 1

    started = time.perf_counter()
    _in_threads(THREADS, increment)
    elapsed = time.perf_counter() - started
    data = _json(call(app, "/dump", cookie)[2])["data"]
    return data, sum(retries), elapsed


@pytest.fixture
def fine_switching(backend: Backend) -> Iterator[None]:
    """Switch threads often for in-process stores, whose calls release the GIL little
    or not at all, so that their requests interleave as a networked store's would."""
    if backend.name not in ("memory", "sqlite"):
        yield
        return
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


# --- 1. torture, threads of one process ------------------------------------------------


@pytest.mark.usefixtures("fine_switching")
def test_torture_threads_lose_no_update(backend: Backend, report: Reporter) -> None:
    app = ContentionAnswer(build(backend.store))
    cookie = _seed(app)
    data, retries, elapsed = _torture(app, cookie)
    stats = app.app.stats.snapshot()
    report(f"merge-threads-{backend.name}", {**stats, "client_retries": retries, "seconds": round(elapsed, 2)})
    assert data == {"user": "alice", **{f"t{i}": REQUESTS for i in range(THREADS)}}
    assert stats["given_up"] == retries
    assert stats["merged"] <= stats["conflicts"]


# --- 5. overwrite loses updates ----------------------------------------------------------


@pytest.mark.usefixtures("fine_switching")
def test_torture_overwrite_loses_updates(backend: Backend, report: Reporter) -> None:
    app = ContentionAnswer(build(backend.store, conflicts="overwrite"))
    cookie = _seed(app)
    data, retries, elapsed = _torture(app, cookie, OVERWRITE_REQUESTS)
    stats = app.app.stats.snapshot()
    lost = THREADS * OVERWRITE_REQUESTS - sum(data.get(f"t{i}", 0) for i in range(THREADS))
    report(
        f"overwrite-threads-{backend.name}",
        {**stats, "client_retries": retries, "lost": lost, "seconds": round(elapsed, 2)},
    )
    assert stats["conflicts"] > 0, "no two requests overlapped; the test proves nothing"
    assert lost > 0
    assert data["user"] == "alice"


# --- 2. torture, two gunicorn worker processes over HTTP -------------------------------


@dataclass
class Served:
    """A gunicorn serving the counter app: its ``port`` and its workers' counters."""

    port: int
    stats_dir: Path

    def get(self, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request on a connection of its own, so that a retry never repeats a
        request the server may have half-served."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            headers = {"Connection": "close"}
            if cookie is not None:
                headers["Cookie"] = cookie
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stats(self) -> dict[str, dict[str, int]]:
        """Each worker process's counters, by pid."""
        return {path.stem: json.loads(path.read_text()) for path in self.stats_dir.glob("*.json")}


@pytest.fixture
def served(backend: Backend, tmp_path: Path) -> Iterator[Served]:
    """gunicorn with two gthread workers serving the counter app over ``backend``."""
    assert backend.url is not None
    _import_or_require("gunicorn", "gunicorn (the test extra installs it)")
    from mirakuru import HTTPExecutor

    port, stats_dir = free_port(), tmp_path / "stats"
    stats_dir.mkdir()
    command = [
        sys.executable, "-m", "gunicorn",
        "--workers", "2", "--worker-class", "gthread", "--threads", "4",
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "3",
        "--pythonpath", str(TESTS), "--log-level", "warning",
        "concurrency_app:make_app()",
    ]  # fmt: skip
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("w")
    server = HTTPExecutor(
        command,
        url=f"http://127.0.0.1:{port}/health",
        method="GET",
        timeout=30,
        envvars={"WSGISESSION_TEST_STORE": backend.url, "WSGISESSION_TEST_STATS": str(stats_dir)},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        try:
            server.start()
        except Exception as exc:  # mirakuru's timeout or early-exit errors
            log.flush()
            pytest.fail(f"gunicorn did not start ({exc}); its log:\n{log_path.read_text()[-3000:]}")
        yield Served(port, stats_dir)
    finally:
        server.stop()
        log.close()


@pytest.mark.parametrize("backend", SHARED, indirect=True)
def test_torture_two_processes_lose_no_update(served: Served, backend: Backend, report: Reporter) -> None:
    status, headers, _ = served.get("/seed")
    cookie = headers.get("Set-Cookie", "").split(";", 1)[0]
    assert status == 200 and cookie.startswith("session=")
    retries = [0] * HTTP_THREADS

    def increment(index: int) -> None:
        done = 0
        while done < HTTP_REQUESTS:
            status, _, body = served.get(f"/incr/h{index}", cookie)
            if status == int(GIVEN_UP.split()[0]):
                retries[index] += 1
                continue
            assert status == 200, body
            done += 1

    started = time.perf_counter()
    _in_threads(HTTP_THREADS, increment)
    elapsed = time.perf_counter() - started
    status, _, body = served.get("/dump", cookie)
    per_worker = served.stats()
    totals = {name: sum(worker[name] for worker in per_worker.values()) for name in ("conflicts", "merged", "given_up")}
    report(
        f"merge-gunicorn-{backend.name}",
        {**totals, "client_retries": sum(retries), "workers": len(per_worker), "seconds": round(elapsed, 2)},
    )
    assert _json(body)["data"] == {"user": "alice", **{f"h{i}": HTTP_REQUESTS for i in range(HTTP_THREADS)}}
    assert len(per_worker) == 2, "both worker processes should have served requests"
    assert totals["given_up"] == sum(retries)


# --- 3, 4. logout and regenerate racing with writers -----------------------------------


@dataclass
class Race:
    """What the writers saw around the racing request."""

    after: list[tuple[dict[str, Any], str | None]]
    """Answers (and cookies set) of requests that started after the race had ended."""
    before: dict[int, int]
    """Per writer, the highest value answered before the racing request started."""
    saved: dict[int, int]
    """Per writer, the highest value saved to the old id (answered with its cookie)."""


def _race(app: ContentionAnswer, cookie: str, action: str) -> tuple[Race, tuple[str, list[tuple[str, str]], bytes]]:
    """8 writers increment keys of their own with ``cookie``; writer 0 issues
    ``action`` in the middle of the run instead of its 11th increment."""
    started, finished = threading.Event(), threading.Event()
    race = Race([], {i: 0 for i in range(WRITERS)}, {i: 0 for i in range(WRITERS)})
    answer: list[tuple[str, list[tuple[str, str]], bytes]] = []
    lock = threading.Lock()

    def write(index: int) -> None:
        for n in range(WRITER_REQUESTS):
            if index == 0 and n == RACE_AT:
                started.set()
                answer.append(call(app, action, cookie))
                while answer[-1][0] == GIVEN_UP:  # nothing was done: retry, as a client would
                    answer.append(call(app, action, cookie))
                finished.set()
                continue
            late = finished.is_set()
            status, headers, body = call(app, f"/incr/w{index}", cookie)
            while status == GIVEN_UP:  # nothing was saved: retry, as a client would
                late = finished.is_set()
                status, headers, body = call(app, f"/incr/w{index}", cookie)
            assert status.startswith("200"), status
            with lock:
                fresh = session_cookie(headers)
                if fresh is not None and _sid(fresh) == _sid(cookie):
                    race.saved[index] = max(race.saved[index], _json(body)["value"])
                if late:
                    race.after.append((_json(body), session_cookie(headers)))
                elif not started.is_set():
                    race.before[index] = max(race.before[index], _json(body)["value"])

    _in_threads(WRITERS, write)
    return race, answer[-1]


def _assert_dead(app: Any, store: SessionStore, cookie: str) -> None:
    """The old id has no record, and its cookie yields a new empty session every time."""
    assert store.load(store_key(_sid(cookie))) is None
    for _ in range(3):
        _, headers, body = call(app, "/dump", cookie)
        assert _json(body) == {"new": True, "data": {}}
        assert session_cookie(headers) is None
    seen = set()
    for _ in range(3):
        _, headers, body = call(app, "/incr/probe", cookie)
        fresh = session_cookie(headers)
        assert _json(body) == {"new": True, "value": 1}
        assert fresh is not None and _sid(fresh) != _sid(cookie)
        seen.add(fresh)
    assert len(seen) == 3, "each request with a dead cookie starts a session of its own"
    assert store.load(store_key(_sid(cookie))) is None


def _assert_after_race(race: Race, old: str) -> None:
    for answer, fresh in race.after:
        assert answer == {"new": True, "value": 1}
        assert fresh is None or _sid(fresh) != _sid(old)


def _race_reported(
    backend: Backend, report: Reporter, action: str
) -> tuple[ContentionAnswer, str, Race, tuple[str, list[tuple[str, str]], bytes]]:
    """:func:`_race` on a fresh session of ``backend``, its counters reported."""
    app = ContentionAnswer(build(backend.store))
    cookie = _seed(app)
    race, answer = _race(app, cookie, f"/{action}")
    report(f"{action}-{backend.name}", {**app.app.stats.snapshot(), "requests_after": len(race.after)})
    return app, cookie, race, answer


@pytest.mark.usefixtures("fine_switching")
def test_logout_while_writers_run(backend: Backend, report: Reporter) -> None:
    app, cookie, race, (status, headers, _) = _race_reported(backend, report, "logout")
    assert status.startswith("200")
    assert session_cookie(headers) == "session="  # expired
    _assert_after_race(race, cookie)
    _assert_dead(app, backend.store, cookie)


@pytest.mark.usefixtures("fine_switching")
def test_regenerate_while_writers_run(backend: Backend, report: Reporter) -> None:
    app, cookie, race, (status, headers, _) = _race_reported(backend, report, "regenerate")
    new = session_cookie(headers)
    assert status.startswith("200") and new is not None and _sid(new) != _sid(cookie)
    _assert_after_race(race, cookie)
    _assert_dead(app, backend.store, cookie)
    data = _stored(backend.store, _sid(new))
    assert data is not None and data["user"] == "alice"
    for index, value in race.saved.items():
        # Every increment saved to the old id, before or during the regenerate, was
        # carried over to the new one.
        assert data.get(f"w{index}", 0) == value, f"writer {index}"
        assert value >= race.before[index]


# --- 6. deterministic interleavings ------------------------------------------------------

Action = Callable[[Session], None]


class Scripted:
    """A middleware-wrapped app whose paths run actions on the session; an action may
    :meth:`hold` its request, after it has loaded, until :meth:`finish` lets it commit."""

    def __init__(self, store: SessionStore, **options: Any) -> None:
        self.actions: dict[str, Action] = {}
        self.app = SessionMiddleware(self._serve, secret=SECRET, store=store, **options)
        self._reached, self._go = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._result: list[Any] = []

    def _serve(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.actions[environ["PATH_INFO"]](environ["wsgisession"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def hold(self) -> None:
        """Called inside an action: park this request until :meth:`finish`."""
        self._reached.set()
        assert self._go.wait(10), "the held request was never released"

    def call(self, action: Action, cookie: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        """Run one request that performs ``action``."""
        path = f"/{uuid.uuid4().hex}"
        self.actions[path] = action
        return call(self.app, path, cookie)

    def start(self, action: Action, cookie: str) -> None:
        """Run a request performing ``action`` (which calls :meth:`hold`) in a thread,
        and return once it is held, its session loaded and changed."""
        self._reached, self._go, self._result = threading.Event(), threading.Event(), []
        self._thread = threading.Thread(target=lambda: self._result.append(self.call(action, cookie)), daemon=True)
        self._thread.start()
        assert self._reached.wait(10), "the held request never got to hold()"

    def finish(self) -> tuple[str, list[tuple[str, str]], bytes]:
        """Let the held request commit; its status, headers and body."""
        assert self._thread is not None
        self._go.set()
        self._thread.join(10)
        assert self._result, "the held request failed"
        result: tuple[str, list[tuple[str, str]], bytes] = self._result[0]
        return result

    def create(self, **data: Any) -> str:
        """A stored session holding ``data``; its cookie."""
        _, headers, _ = self.call(lambda session: session.update(data))
        cookie = session_cookie(headers)
        assert cookie is not None
        return cookie


def _set(**values: Any) -> Action:
    return lambda session: session.update(values)


def _delete(*keys: str) -> Action:
    def action(session: Session) -> None:
        for key in keys:
            del session[key]

    return action


def _destroy(session: Session) -> None:
    session.destroy()


def _then_hold(script: Scripted, action: Action) -> Action:
    def held(session: Session) -> None:
        action(session)
        script.hold()

    return held


def _interleave(script: Scripted, cookie: str, late: Action, early: Action) -> tuple[str, list[tuple[str, str]], bytes]:
    """``late`` loads and changes first but commits last; ``early`` runs whole between."""
    script.start(_then_hold(script, late), cookie)
    status, _, _ = script.call(early, cookie)
    assert status.startswith("200")
    return script.finish()


def test_same_key_later_commit_wins(backend: Backend) -> None:
    script = Scripted(backend.store)
    cookie = script.create(k="seed", base=1)
    _interleave(script, cookie, late=_set(k="late", a=1), early=_set(k="early", b=1))
    assert _stored(backend.store, _sid(cookie)) == {"k": "late", "base": 1, "a": 1, "b": 1}
    assert script.app.stats.snapshot() == {"conflicts": 1, "merged": 1, "dropped": 0, "given_up": 0}


def test_delete_by_one_set_by_other(backend: Backend) -> None:
    script = Scripted(backend.store)
    cookie = script.create(base=1, x=1)
    _interleave(script, cookie, late=_delete("x"), early=_set(y=1))
    assert _stored(backend.store, _sid(cookie)) == {"base": 1, "y": 1}
    cookie = script.create(base=1, y=1)
    _interleave(script, cookie, late=_set(z=1), early=_delete("y"))
    assert _stored(backend.store, _sid(cookie)) == {"base": 1, "z": 1}  # y is not brought back


def test_delete_and_set_of_same_key_later_commit_wins(backend: Backend) -> None:
    script = Scripted(backend.store)
    cookie = script.create(base=1, x=1)
    _interleave(script, cookie, late=_delete("x"), early=_set(x=2))
    assert _stored(backend.store, _sid(cookie)) == {"base": 1}
    cookie = script.create(base=1, x=1)
    _interleave(script, cookie, late=_set(x=3), early=_delete("x"))
    assert _stored(backend.store, _sid(cookie)) == {"base": 1, "x": 3}


def test_nested_mutation_is_merged(backend: Backend) -> None:
    script = Scripted(backend.store)
    cookie = script.create(cart=[1], base=1)
    _interleave(script, cookie, late=lambda session: session["cart"].append(2), early=_set(n=1))
    assert _stored(backend.store, _sid(cookie)) == {"cart": [1, 2], "base": 1, "n": 1}


def test_removing_the_last_key_keeps_a_concurrent_write(backend: Backend) -> None:
    """A flash message consumed (emptying the session) while another request put
    something in the cart: the cart survives."""
    script = Scripted(backend.store)
    cookie = script.create(flash="saved")
    _, headers, _ = _interleave(script, cookie, late=_delete("flash"), early=_set(cart=[1]))
    assert _stored(backend.store, _sid(cookie)) == {"cart": [1]}
    assert session_cookie(headers) in (None, cookie), "the session lives on: its cookie must not be expired"


def test_max_age_set_by_one_survives_a_later_merge(backend: Backend) -> None:
    """ "Remember me" (a new max_age) set by one request is not undone by an
    overlapping request that only changed a key."""
    script = Scripted(backend.store)
    cookie = script.create(base=1)

    def remember(session: Session) -> None:
        session.max_age = 30 * 86_400

    _, headers, _ = _interleave(script, cookie, late=_set(n=1), early=remember)
    record = backend.store.load(store_key(_sid(cookie)))
    assert record is not None and framing.decode(record.data).max_age == 30 * 86_400
    assert record.expires_at > time.time() + 29 * 86_400
    late_cookie = [value for name, value in headers if name == "Set-Cookie"]
    assert all("Max-Age=2592000" in value for value in late_cookie), late_cookie


def test_destroy_while_in_flight_is_not_resurrected(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    script = Scripted(backend.store)
    cookie = script.create(user="alice")
    caplog.set_level(logging.DEBUG, logger="wsgisession")
    status, headers, _ = _interleave(script, cookie, late=_set(k=1), early=_destroy)
    assert status.startswith("200")
    assert session_cookie(headers) is None, "the late request must not send the dead cookie again"
    assert backend.store.load(store_key(_sid(cookie))) is None
    assert script.app.stats.snapshot()["dropped"] == 1
    assert [r.levelno for r in caplog.records if r.name == "wsgisession"] == [logging.DEBUG]
    _assert_dead(build(backend.store), backend.store, cookie)


def test_regenerate_while_in_flight_is_not_resurrected(backend: Backend) -> None:
    script = Scripted(backend.store)
    cookie = script.create(user="alice")
    script.start(_then_hold(script, _set(k=1)), cookie)
    _, regenerated, _ = script.call(lambda session: session.regenerate(), cookie)
    status, headers, _ = script.finish()
    assert status.startswith("200")
    new = session_cookie(regenerated)
    assert new is not None and _sid(new) != _sid(cookie)
    assert session_cookie(headers) is None
    assert backend.store.load(store_key(_sid(cookie))) is None
    assert _stored(backend.store, _sid(new)) == {"user": "alice"}
    _assert_dead(build(backend.store), backend.store, cookie)


def test_regenerate_carries_over_a_write_saved_meanwhile(backend: Backend) -> None:
    """A login (regenerate) that loaded the session before another request put
    something in the cart: the cart moves to the new id with the rest."""
    script = Scripted(backend.store)
    cookie = script.create(user="alice", cart=[])
    _, headers, _ = _interleave(
        script, cookie, late=lambda session: session.regenerate(), early=lambda session: session["cart"].append(1)
    )
    new = session_cookie(headers)
    assert new is not None and _sid(new) != _sid(cookie)
    assert _stored(backend.store, _sid(new)) == {"user": "alice", "cart": [1]}
    assert script.app.stats.snapshot() == {"conflicts": 1, "merged": 1, "dropped": 0, "given_up": 0}
    _assert_dead(build(backend.store), backend.store, cookie)


def test_a_write_after_the_session_was_emptied_is_dropped(backend: Backend) -> None:
    """The other order: a request that loaded the session, then added to the cart,
    commits after another emptied it (``session.clear()`` is how many apps log out).
    An emptied session is deleted, and like a destroyed one it is not brought back."""
    script = Scripted(backend.store)
    cookie = script.create(user="alice")
    _, headers, _ = _interleave(script, cookie, late=_set(cart=[1]), early=lambda session: session.clear())
    assert backend.store.load(store_key(_sid(cookie))) is None
    assert session_cookie(headers) is None, "the late request must not send the dead cookie again"
    assert script.app.stats.snapshot() == {"conflicts": 1, "merged": 0, "dropped": 1, "given_up": 0}


def test_a_rolling_read_after_the_session_was_emptied_does_not_revive_it(backend: Backend) -> None:
    """A read-only request with a rolling refresh due, loaded before another request
    emptied the session: its touch finds nothing, and it sends no cookie."""
    script = Scripted(backend.store, rolling=True, max_age=3600)
    cookie = script.create(flash="hi")
    backend.store.touch(store_key(_sid(cookie)), 1000)  # idle long enough for a refresh
    _, headers, _ = _interleave(script, cookie, late=lambda session: session.get("flash"), early=_delete("flash"))
    assert session_cookie(headers) is None
    assert backend.store.load(store_key(_sid(cookie))) is None


def test_logout_of_a_session_already_emptied_expires_the_cookie(backend: Backend) -> None:
    """destroy() on a cookie whose session is gone still expires that cookie."""
    script = Scripted(backend.store)
    cookie = script.create(flash="hi")
    script.call(_delete("flash"), cookie)

    def read_then_log_out(session: Session) -> None:
        session.get("x")  # loads: finds no record
        session.destroy()

    _, headers, _ = script.call(read_then_log_out, cookie)
    assert session_cookie(headers) == "session="


def test_regenerate_racing_with_logout_brings_nothing_back(backend: Backend) -> None:
    script = Scripted(backend.store)
    cookie = script.create(user="alice")
    _, headers, _ = _interleave(script, cookie, late=lambda session: session.regenerate(), early=_destroy)
    fresh = session_cookie(headers)
    assert fresh in (None, "session="), "the regenerating request handed out the logged-out session"
    if isinstance(backend.store, Countable):
        assert backend.store.count() == 0, "the regenerated copy of the logged-out session is still stored"
    _assert_dead(build(backend.store), backend.store, cookie)


@pytest.mark.parametrize("conflicts", ["merge", "overwrite"])
def test_two_overlapping_requests(backend: Backend, conflicts: str) -> None:
    """The README's example: A loads, B loads and saves, A saves."""
    script = Scripted(backend.store, conflicts=conflicts)
    cookie = script.create(base=1)
    _interleave(script, cookie, late=_set(a=1), early=_set(b=1))
    expected = {"base": 1, "a": 1, "b": 1} if conflicts == "merge" else {"base": 1, "a": 1}
    assert _stored(backend.store, _sid(cookie)) == expected
