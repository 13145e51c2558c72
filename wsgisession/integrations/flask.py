"""Flask on wsgisession: ``flask.session`` backed by the WSGI session.

::

    from flask import Flask
    from wsgisession.integrations.flask import init_app

    app = Flask(__name__)
    app.secret_key = "..."
    init_app(app, store="sqlite:///sessions.db")

:func:`init_app` wraps ``app.wsgi_app`` in :class:`wsgisession.SessionMiddleware` and
installs :class:`SessionInterface`. ``flash()``, ``get_flashed_messages()`` and
``session.permanent`` work as with Flask's cookie sessions, with the data kept on the
server.
"""

from __future__ import annotations

from typing import Any

import flask
from flask.sessions import SessionMixin

from ..middleware import SessionMiddleware
from ..session import Session
from ._proxy import SessionProxy

__all__ = ["FlaskSession", "SessionInterface", "init_app"]


def init_app(app: flask.Flask, **options: Any) -> SessionMiddleware:
    """Give ``app`` server-side sessions; returns the middleware now at ``app.wsgi_app``.

    ``options`` are :class:`wsgisession.SessionMiddleware` keywords. Defaults come from
    the app's config, read now (configure the app first): ``secret`` from
    ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``; the cookie from ``SESSION_COOKIE_*``;
    ``rolling`` from ``SESSION_REFRESH_EACH_REQUEST``; and ``max_age=None``, so that a
    session is a browser-session cookie until ``session.permanent = True`` gives it
    ``PERMANENT_SESSION_LIFETIME``, as with Flask's own sessions.
    """
    if isinstance(app.session_interface, SessionInterface):
        # Each call wraps app.wsgi_app again: every request would carry two sessions.
        raise RuntimeError("init_app() was already called for this Flask app; call it once")
    merged = {**_defaults_from_config(app, needs_secret="secret" not in options), **options}
    middleware = SessionMiddleware(app.wsgi_app, **merged)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    app.session_interface = SessionInterface(middleware.environ_key)
    return middleware


def _defaults_from_config(app: flask.Flask, needs_secret: bool) -> dict[str, Any]:
    config = app.config
    if needs_secret and not app.secret_key:
        raise ValueError("wsgisession needs a secret: set app.secret_key (SECRET_KEY) or pass secret=...")
    defaults: dict[str, Any] = {
        "secret": [app.secret_key, *(config.get("SECRET_KEY_FALLBACKS") or [])],
        "cookie_name": config.get("SESSION_COOKIE_NAME", "session"),
        "max_age": None,
        "path": config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/",
        "domain": config.get("SESSION_COOKIE_DOMAIN") or None,
        "secure": True if config.get("SESSION_COOKIE_SECURE") else "auto",
        "httponly": config.get("SESSION_COOKIE_HTTPONLY", True),
        "rolling": config.get("SESSION_REFRESH_EACH_REQUEST", True),
        "partitioned": config.get("SESSION_COOKIE_PARTITIONED", False),
    }
    if config.get("SESSION_COOKIE_SAMESITE"):
        defaults["samesite"] = config["SESSION_COOKIE_SAMESITE"]  # else wsgisession's Lax, not Flask's none
    return defaults


class FlaskSession(SessionProxy, SessionMixin):
    """``flask.session``: a wsgisession :class:`~wsgisession.Session` (kept as
    :attr:`wsgisession`) with Flask's ``permanent``, ``new``, ``modified`` and ``accessed``.

    ``permanent`` is whether the cookie outlives the browser session: setting it to
    ``True`` gives this session ``PERMANENT_SESSION_LIFETIME``, ``False`` a
    browser-session cookie. Nested changes are saved without ``modified = True``.
    """

    accessed = False  # Flask sets it on every use of flask.session; wsgisession tracks its own

    def __init__(self, session: Session, lifetime: int) -> None:
        super().__init__(session)
        self.lifetime = lifetime

    @property
    def permanent(self) -> bool:
        """Whether the session cookie outlives the browser session."""
        return self.wsgisession.max_age is not None

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self.wsgisession.max_age = self.lifetime if value else None

    @property
    def new(self) -> bool:  # type: ignore[override]
        """Whether no stored record backs the session yet."""
        return self.wsgisession.is_new

    @property
    def modified(self) -> bool:
        """Whether this request changed the session; detected, so setting it does nothing."""
        return self.wsgisession.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        pass  # the Flask idiom after nested mutation; wsgisession sees such changes itself


class SessionInterface(flask.sessions.SessionInterface):
    """Flask's session interface over the session that :class:`wsgisession.SessionMiddleware`
    put in the environ; saving is the middleware's job, when the response starts."""

    def __init__(self, environ_key: str = "wsgisession") -> None:
        self.environ_key = environ_key

    def open_session(self, app: flask.Flask, request: flask.Request) -> FlaskSession:
        """The request's session, not loaded until used."""
        session = request.environ.get(self.environ_key)
        if not isinstance(session, Session):
            raise RuntimeError(
                f"no wsgisession session at environ[{self.environ_key!r}]: "
                "call wsgisession.integrations.flask.init_app(app)"
            )
        return FlaskSession(session, int(app.permanent_session_lifetime.total_seconds()))

    def save_session(self, app: flask.Flask, session: SessionMixin, response: flask.Response) -> None:
        """Nothing to do: the middleware saves when the response starts."""
