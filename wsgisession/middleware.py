"""SessionMiddleware: the WSGI wrapper that gives an application server-side sessions.

It reads and verifies the session cookie, puts a lazy :class:`Session` in the
environ, and commits when the application calls ``start_response`` so that the
store is written before the status line can reach the client (a redirect never
outruns its save). Changes made while the body is produced are saved when the
response is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .config import SecureSetting, check_genid, cookie_options, expiry_options, secret_list
from .cookies import KeyRing, expire_header, is_https, read_cookies, set_header
from .engine import CommitResult, Conflicts, ConflictStats, SessionEngine
from .ids import generate_id
from .memory import MemoryStore
from .serializers import JSONSerializer, Serializer
from .session import Session
from .store import SessionStore, open_store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["SessionMiddleware"]

log = logging.getLogger("wsgisession")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class SessionMiddleware:
    """Wrap ``app`` so that ``environ["wsgisession"]`` is the request's session.

    ``secret`` signs the cookie: a string, bytes, or a list whose first item signs and
    whose every item verifies (rotate by putting a new secret first). ``store`` is a
    store or a store URL (``"sqlite:///sessions.db"``). The remaining keywords shape
    the cookie and the session's lifetime; see the README for each.
    """

    def __init__(
        self,
        app: WSGIApplication,
        secret: str | bytes | Sequence[str | bytes],
        store: SessionStore | str | None = None,
        *,
        cookie_name: str = "session",
        max_age: int | None = 1_209_600,
        absolute_timeout: int | None = None,
        rolling: bool = False,
        save_uninitialized: bool = False,
        path: str = "/",
        domain: str | None = None,
        secure: SecureSetting = "auto",
        httponly: bool = True,
        samesite: str | None = "Lax",
        partitioned: bool = False,
        priority: str | None = None,
        trust_proxy: bool = False,
        serializer: Serializer | None = None,
        environ_key: str = "wsgisession",
        genid: Callable[[], str] = generate_id,
        save_on_error: bool = False,
        conflicts: Conflicts = "merge",
    ) -> None:
        if conflicts not in ("merge", "overwrite"):
            raise ValueError(f"conflicts must be 'merge' or 'overwrite', not {conflicts!r}")
        if not environ_key:
            raise ValueError("environ_key must be a non-empty string")
        self.app = app
        self.keys = KeyRing(secret_list(secret))
        self.cookie = cookie_options(
            cookie_name, path, domain, secure, httponly, samesite, partitioned, priority, trust_proxy
        )
        self.store: SessionStore = _resolve_store(store)
        self.engine = SessionEngine(
            self.store,
            serializer or JSONSerializer(),
            expiry_options(max_age, absolute_timeout, rolling),
            check_genid(genid),
            save_uninitialized=save_uninitialized,
            conflicts=conflicts,
        )
        self.environ_key = environ_key
        self.save_on_error = save_on_error
        self._warned_insecure = False
        self._checked_server = False

    @property
    def stats(self) -> ConflictStats:
        """Counters of concurrent-save conflicts, merges, drops and give-ups."""
        return self.engine.stats

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request with its session."""
        if not self._checked_server:
            self._check_server(environ)
        session = self.engine.open(partial(self._session_id, environ))
        environ[self.environ_key] = session
        response = _Response(self, environ, session, start_response)
        try:
            body = self.app(environ, response.start_response)
        except BaseException:
            if self.save_on_error:
                response.commit_late()
            raise
        if response.committed and not session.accessed and type(body) in (list, tuple):
            return body  # the app has finished without the session: nothing left to save
        return _ClosingBody(body, response)

    def _session_id(self, environ: WSGIEnvironment) -> str | None:
        for value in read_cookies(environ, self.cookie.name):
            sid = self.keys.unsign(value)
            if sid is not None:
                return sid
        return None

    def _check_server(self, environ: WSGIEnvironment) -> None:
        """On the first request: warn if the server runs several processes while the
        sessions live in one process's memory, where each worker sees its own."""
        self._checked_server = True
        if isinstance(self.store, MemoryStore) and environ.get("wsgi.multiprocess"):
            log.warning(
                "sessions are kept in this process's memory (memory://) but the server runs several "
                "processes, so each sees different sessions: use store='sqlite:///sessions.db' or a server store"
            )

    def may_write(self, environ: WSGIEnvironment) -> bool:
        """Whether the session cookie can reach this client: a cookie that must be
        Secure is dropped by browsers on plain http, so nothing is saved for it."""
        if not self.cookie.always_secure or is_https(environ, self.cookie.trust_proxy):
            return True
        if not self._warned_insecure:
            self._warned_insecure = True
            why = "its __Host-/__Secure- name" if self.cookie.name.startswith("__") else "secure=True"
            log.warning(
                "session cookie %r must be Secure (%s) but this request is plain http, so sessions are not "
                "saved: serve over https, or set trust_proxy=True behind a proxy that terminates TLS",
                self.cookie.name,
                why,
            )
        return False

    def headers_for(self, result: CommitResult, environ: WSGIEnvironment) -> list[tuple[str, str]]:
        """The ``Set-Cookie`` header a commit result asks for, if any."""
        if result.value is None and not result.expire:
            return []
        secure = self.cookie.secure is True or (
            self.cookie.secure == "auto" and is_https(environ, self.cookie.trust_proxy)
        )
        if result.value is None:
            return [("Set-Cookie", expire_header(self.cookie, secure))]
        return [("Set-Cookie", set_header(self.cookie, self.keys.sign(result.value), result.max_age, secure))]


def _resolve_store(store: SessionStore | str | None) -> SessionStore:
    if store is None:
        return MemoryStore()
    if isinstance(store, str):
        return open_store(store)
    missing = [
        name for name in ("load", "save", "touch", "delete", "close") if not callable(getattr(store, name, None))
    ]
    if missing:
        raise ValueError(
            f"store must be a store URL or a SessionStore; {type(store).__name__} has no {', '.join(missing)}()"
        )
    return store


class _Response:
    """One request's response: commits at ``start_response``, again at ``close``."""

    __slots__ = ("added", "committed", "environ", "middleware", "session", "status_ok", "upstream")

    def __init__(
        self, middleware: SessionMiddleware, environ: WSGIEnvironment, session: Session, upstream: StartResponse
    ) -> None:
        self.middleware, self.environ, self.session, self.upstream = middleware, environ, session, upstream
        self.committed = False
        self.status_ok = True
        self.added: list[tuple[str, str]] = []  # the Set-Cookie the commit asked for

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if not self.committed:
            self.committed = True
            self.status_ok = exc_info is None and status[:1] != "5"
            if self.middleware.engine.idle(self.session):
                return self.upstream(status, headers, exc_info)  # no cookie, no Vary: headers as they are
            headers = list(headers)
            self._commit(headers)
        else:
            # An error page replacing the first headers (PEP 3333): what was already
            # saved keeps its cookie, and nothing after this point is saved.
            self.status_ok = False
            headers = [*headers, *self.added]
            if self.session.accessed:
                _add_vary_cookie(headers)
        return self.upstream(status, headers, exc_info)

    def _commit(self, headers: list[tuple[str, str]]) -> None:
        middleware, session = self.middleware, self.session
        if self._may_save():
            result = middleware.engine.commit(session)
            self.added = middleware.headers_for(result, self.environ)
            headers.extend(self.added)
        if session.accessed:
            _add_vary_cookie(headers)

    def body_failed(self) -> None:
        """The body raised while it was produced: like an app that raises, save nothing more."""
        self.status_ok = False

    def commit_late(self) -> None:
        """Save what changed after the headers left (or after the app raised)."""
        if self._may_save():
            self.middleware.engine.commit(self.session, can_set_cookie=False)

    def _may_save(self) -> bool:
        middleware = self.middleware
        return (self.status_ok or middleware.save_on_error) and middleware.may_write(self.environ)


class _ClosingBody:
    """The application's body, passed through untouched; ``close`` also saves."""

    __slots__ = ("body", "response")

    def __init__(self, body: Iterable[bytes], response: _Response) -> None:
        self.body, self.response = body, response

    def __iter__(self) -> Iterator[bytes]:
        if type(self.body) in (list, tuple):
            return iter(self.body)  # nothing runs while it is read, so nothing can fail
        return self._watched()

    def _watched(self) -> Iterator[bytes]:
        try:
            yield from self.body
        except GeneratorExit:
            raise  # the server stopped reading: not a failure of the app
        except BaseException:
            self.response.body_failed()
            raise

    def __len__(self) -> int:
        # Lets a server that counts one-chunk bodies (wsgiref) still set Content-Length.
        return len(self.body)  # type: ignore[arg-type]  # TypeError when it has no length, as servers expect

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            session = self.response.session
            if self.response.committed and session.accessed and not session._unchanged_since_commit():
                self.response.commit_late()


def _add_vary_cookie(headers: list[tuple[str, str]]) -> None:
    for index, (name, value) in enumerate(headers):
        if name.lower() == "vary":
            tokens = {token.strip().lower() for token in value.split(",")}
            if "cookie" not in tokens and "*" not in tokens:
                headers[index] = (name, f"{value}, Cookie")
            return
    headers.append(("Vary", "Cookie"))


def session_of(environ: dict[str, Any], key: str = "wsgisession") -> Session:
    """The session of a request, for code that has the environ; raises
    :class:`KeyError` with a hint when the middleware is not installed."""
    try:
        session: Session = environ[key]
    except KeyError:
        raise KeyError(f"no session at environ[{key!r}]: wrap the application in SessionMiddleware") from None
    return session
