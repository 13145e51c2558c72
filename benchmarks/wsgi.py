"""In-process WSGI calls: environs, the scenario apps, and cases built from them.

Every benchmarked stack (ours, a floor, an anchor) is a WSGI app that serves the five
scenario paths; a :class:`Target` names it and says how its cookie is called.
"""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import io
import itertools
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wsgisession.testing import serve

from .timing import Case

SCENARIOS = ("untouched", "read", "write", "create", "destroy")
PAYLOADS = {"100B": 100, "4KB": 4096, "64KB": 65536}
DEFAULT_PAYLOAD = 100
SECRET = "benchmark-secret-not-for-production"

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_counter = itertools.count()


@dataclass
class Target:
    """A WSGI app serving ``/untouched``, ``/read``, ``/write``, ``/create``, ``/destroy``.

    ``cookie_name`` is ``None`` for a floor (no session cookie); ``close`` releases what
    the target opened.
    """

    name: str
    app: App
    cookie_name: str | None
    close: Callable[[], None] = field(default=lambda: None)


def environ(path: str, cookie: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A minimal GET environ, complete enough for Flask and Django."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if cookie:
        env["HTTP_COOKIE"] = cookie
    if extra:
        env.update(extra)
    return env


def runner(app: App) -> Callable[[dict[str, Any]], None]:
    """The timed call: serve the request and drain and close its body, nothing else."""

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        return _discard

    def run(env: dict[str, Any]) -> None:
        body = app(env, start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    return run


def _discard(_: bytes) -> None:
    return None


def new_session(target: Target, payload: int = DEFAULT_PAYLOAD) -> str:
    """Create a session through ``target`` and return the ``Cookie`` header that sends it back."""
    status, headers, _ = serve(target.app, environ("/create", None, {"bench.payload": payload}))
    if not status.startswith(("200", "302")):
        raise RuntimeError(f"{target.name}: /create answered {status}")
    for name, raw in headers:
        value = raw.strip()  # Beaker starts its header value with a space
        if name.lower() == "set-cookie" and value.startswith(f"{target.cookie_name}="):
            return value.split(";", 1)[0]
    raise RuntimeError(f"{target.name}: /create set no {target.cookie_name!r} cookie")


def scenario_case(target: Target, scenario: str, payload: int = DEFAULT_PAYLOAD, cookies: Sequence[str] = ()) -> Case:
    """The case for ``scenario`` on ``target``: read and write reuse ``cookies`` (or one
    fresh session), destroy gets fresh sessions made outside the clock."""
    run = runner(target.app)
    path = "/" + scenario
    extra = {"bench.payload": payload}
    if target.cookie_name is None or scenario == "create":
        return Case(lambda n: [environ(path, None, extra) for _ in range(n)], run)
    if scenario == "destroy":
        return Case(lambda n: [environ(path, new_session(target, payload), extra) for _ in range(n)], run)
    pool = list(cookies)

    def prepare(n: int) -> list[dict[str, Any]]:
        if not pool:
            pool.append(new_session(target, payload))
        return [environ(path, pool[i % len(pool)], extra) for i in range(n)]

    return Case(prepare, run)


def blob(environ: dict[str, Any]) -> str:
    """The filler that makes a new session about ``bench.payload`` bytes."""
    return "x" * max(0, int(environ.get("bench.payload", DEFAULT_PAYLOAD)) - 40)


def tick() -> int:
    """A value that differs on every call, so a write always changes the session."""
    return next(_counter)


def _ok(start_response: Callable[..., Any], body: bytes = b"ok") -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The bare WSGI floor: answers every path with the same two bytes."""
    return _ok(start_response)


def ours_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The app wrapped by wsgisession: one session action per path."""
    path, session = environ["PATH_INFO"], environ["wsgisession"]
    if path == "/read":
        return _ok(start_response, str(session.get("user")).encode())
    if path == "/write":
        session["n"] = tick()
    elif path == "/create":
        session["user"] = "ada"
        session["blob"] = blob(environ)
    elif path == "/destroy":
        session.destroy()
    return _ok(start_response)


def ours(store: Any, name: str = "wsgisession") -> Target:
    """wsgisession over ``store`` (a store or a URL)."""
    from wsgisession import SessionMiddleware

    middleware = SessionMiddleware(ours_app, secret=SECRET, store=store)
    return Target(name, middleware, "session", middleware.store.close)
