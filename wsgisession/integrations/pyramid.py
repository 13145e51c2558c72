"""Pyramid on wsgisession: ``request.session`` as an ``ISession``, with flash and CSRF.

In one line, with settings from the ini file (``wsgisession.secret``,
``wsgisession.store``, and any other :class:`wsgisession.SessionMiddleware` keyword
after ``wsgisession.``)::

    config.include("wsgisession.integrations.pyramid")

This adds a tween that runs the session middleware inside Pyramid and sets the
session factory. Or wrap the WSGI application yourself and set only the factory::

    config.set_session_factory(session_factory())
    app = SessionMiddleware(config.make_wsgi_app(), secret="...", store="sqlite:///sessions.db")
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pyramid.interfaces import ISession  # type: ignore[import-untyped]
from zope.interface import implementer  # type: ignore[import-untyped]

from ..middleware import SessionMiddleware
from ..session import Session
from ._proxy import SessionProxy
from ._settings import options_from_settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["PyramidSession", "includeme", "session_factory", "session_tween_factory"]

CSRF_KEY = "_csrft_"
FLASH_PREFIX = "_f_"
_OPTIONS = "wsgisession.options"
_REQUEST = "wsgisession.pyramid.request"
_RESPONSE = "wsgisession.pyramid.response"


@implementer(ISession)
class PyramidSession(SessionProxy):
    """Pyramid's ``ISession`` over a wsgisession :class:`~wsgisession.Session` (kept as
    :attr:`wsgisession`, for ``regenerate()`` on login and ``max_age``).

    :meth:`changed` is not needed (nested changes are detected); :meth:`invalidate`
    destroys the session, and what is written afterwards starts a new one.
    """

    @property
    def created(self) -> float:
        """When the session was created, as a Unix time."""
        return self.wsgisession.created

    @property
    def new(self) -> bool:
        """Whether no stored record backs the session yet."""
        return self.wsgisession.is_new

    def invalidate(self) -> None:
        """Delete the session and expire its cookie."""
        self.wsgisession.destroy()

    def changed(self) -> None:
        """Nothing to do: changes to nested values are detected."""

    def flash(self, msg: Any, queue: str = "", allow_duplicate: bool = True) -> None:
        """Append ``msg`` to the flash ``queue`` (unless already there and not ``allow_duplicate``)."""
        messages = self.get(FLASH_PREFIX + queue, [])
        if allow_duplicate or msg not in messages:
            self[FLASH_PREFIX + queue] = [*messages, msg]

    def pop_flash(self, queue: str = "") -> list[Any]:
        """The messages of ``queue``, removed from the session."""
        messages: list[Any] = self.pop(FLASH_PREFIX + queue, [])
        return messages

    def peek_flash(self, queue: str = "") -> list[Any]:
        """The messages of ``queue``, left in the session."""
        return list(self.get(FLASH_PREFIX + queue, []))

    def new_csrf_token(self) -> str:
        """Store and return a new CSRF token."""
        token = secrets.token_hex(20)
        self[CSRF_KEY] = token
        return token

    def get_csrf_token(self) -> str:
        """The session's CSRF token, made on first use."""
        token = self.get(CSRF_KEY)
        return token if isinstance(token, str) else self.new_csrf_token()


def session_factory(environ_key: str = "wsgisession") -> Callable[[Any], PyramidSession]:
    """A Pyramid session factory giving each request its :class:`PyramidSession`; the
    application must be wrapped in :class:`wsgisession.SessionMiddleware` (or use
    :func:`includeme`, which does both)."""

    def factory(request: Any) -> PyramidSession:
        session = request.environ.get(environ_key)
        if not isinstance(session, Session):
            raise RuntimeError(
                f"no wsgisession session at environ[{environ_key!r}]: wrap the application in SessionMiddleware "
                'or config.include("wsgisession.integrations.pyramid")'
            )
        return PyramidSession(session)

    return factory


def includeme(config: Any) -> None:
    """Read ``wsgisession.*`` settings, add :func:`session_tween_factory` and set the
    session factory. ``wsgisession.secret`` is required (several secrets, one per
    line, rotate it); an unknown ``wsgisession.*`` key is an error."""
    options = options_from_settings(config.get_settings())
    if not options.get("secret"):
        raise ValueError("set wsgisession.secret in the settings (e.g. the output of `wsgisession secret`)")
    config.registry[_OPTIONS] = options
    config.add_tween("wsgisession.integrations.pyramid.session_tween_factory")
    config.set_session_factory(session_factory(options.get("environ_key", "wsgisession")))


def session_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
    """A tween running :class:`wsgisession.SessionMiddleware` around the rest of Pyramid,
    configured by :func:`includeme`. It sits above the exception view, so a request
    that ends in a 5xx error page saves nothing."""
    return _SessionTween(handler, registry[_OPTIONS])


class _SessionTween:
    """Runs the middleware on the request's environ; the handler's response keeps its
    identity, with the middleware's headers and a body whose close saves late changes."""

    def __init__(self, handler: Callable[[Any], Any], options: dict[str, Any]) -> None:
        self.handler = handler
        self.middleware = SessionMiddleware(self._app, **options)

    def __call__(self, request: Any) -> Any:
        environ = request.environ
        environ[_REQUEST] = request
        captured: list[list[tuple[str, str]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.append(headers)
            return None

        body = self.middleware(environ, start_response)
        response = environ.pop(_RESPONSE)
        response.app_iter = body  # first: webob drops Content-Length when app_iter is set
        response.headerlist = captured[0]
        return response

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self.handler(environ.pop(_REQUEST))
        environ[_RESPONSE] = response
        start_response(response.status, response.headerlist)
        app_iter: Iterable[bytes] = response.app_iter
        return app_iter
