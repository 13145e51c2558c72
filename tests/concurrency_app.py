"""The WSGI application the concurrency tests hammer, in-process and under gunicorn.

Paths: ``/incr/<key>`` adds one to a counter and answers its new value, ``/seed``
stores ``user=alice``, ``/dump`` answers the whole session, ``/logout`` destroys it,
``/regenerate`` gives it a new id, ``/health`` does not touch it. Every answer is
JSON with ``new`` (whether the request found no stored session).

Under gunicorn, :func:`make_app` builds it from the environment: the store URL in
``WSGISESSION_TEST_STORE`` and a directory in ``WSGISESSION_TEST_STATS`` where each
worker process keeps its conflict counters as ``<pid>.json``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsgisession import SessionConflictError, SessionMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECRET = "concurrency-test-secret-" + "x" * 40
GIVEN_UP = "503 Session Contention"
"""The status a request answers when the engine gave up merging: nothing was saved."""


def counter_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The application behind the session middleware."""
    session = environ["wsgisession"]
    action, _, arg = environ["PATH_INFO"].strip("/").partition("/")
    answer: dict[str, Any] = {}
    if action == "health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    answer["new"] = session.is_new
    if action == "incr":
        answer["value"] = session[arg] = session.get(arg, 0) + 1
    elif action == "seed":
        session["user"] = "alice"
    elif action == "dump":
        answer["data"] = dict(session)
    elif action == "logout":
        session.destroy()
    elif action == "regenerate":
        session.regenerate()
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown action"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]


def build(store: Any, **options: Any) -> SessionMiddleware:
    """The middleware-wrapped counter app over ``store`` (a store or a URL)."""
    return SessionMiddleware(counter_app, secret=SECRET, store=store, **options)


class ContentionAnswer:
    """Answers :data:`GIVEN_UP` when the engine gave up, so a client knows nothing was
    saved and may retry; a connection error would leave it unsure."""

    def __init__(self, app: SessionMiddleware, stats_dir: str | None = None) -> None:
        self.app = app
        self.stats_dir = stats_dir
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request, then record this process's counters."""
        try:
            result = self.app(environ, start_response)
            try:
                body = list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except SessionConflictError:
            start_response(GIVEN_UP, [("Content-Type", "text/plain")])
            body = [b"given up"]
        self._write_stats()
        return body

    def _write_stats(self) -> None:
        if self.stats_dir is None:
            return
        with self._lock:
            target = Path(self.stats_dir) / f"{os.getpid()}.json"
            temporary = target.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.app.stats.snapshot()))
            temporary.replace(target)


def make_app() -> WSGIApplication:
    """The application gunicorn serves, configured from the environment."""
    return ContentionAnswer(build(os.environ["WSGISESSION_TEST_STORE"]), os.environ.get("WSGISESSION_TEST_STATS"))
